package userdir

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
)

// Encode writes the directory as it is stored in its Secret: the JSON of
// Marshal, gzip-compressed. Password hashes are mostly random, but the rest
// of each entry compresses well, which is what lets 5,000 users fit in one
// Secret. The output is deterministic (no name or time in the gzip header),
// so the operator can compare bytes to skip writes. It refuses a directory
// that would not fit in a Secret.
func (d *Directory) Encode() ([]byte, error) {
	raw, err := d.Marshal()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if buf.Len() > MaxSize {
		return nil, fmt.Errorf("%w: %d users take %d bytes compressed, and a Secret holds at most %d", ErrTooLarge, len(d.Users), buf.Len(), MaxSize)
	}
	return buf.Bytes(), nil
}

// Decode reads a directory as stored in its Secret (see Encode).
func Decode(data []byte) (*Directory, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%w: it has %d bytes, and a Secret holds at most %d", ErrTooLarge, len(data), MaxSize)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, errors.New("user directory is not gzip-compressed")
	}
	raw, err := io.ReadAll(io.LimitReader(zr, maxJSONSize+1))
	if err != nil {
		return nil, errors.New("user directory is not valid gzip")
	}
	if len(raw) > maxJSONSize {
		return nil, fmt.Errorf("%w: it inflates to more than %d bytes", ErrTooLarge, maxJSONSize)
	}
	return Parse(raw)
}
