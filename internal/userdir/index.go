package userdir

import "strings"

// Index finds a directory's users by email or id without scanning it. The
// sidecar builds one each time it loads a directory, since it looks users
// up at every request.
type Index struct {
	byEmail map[string]*User
	byID    map[string]*User
}

// Index indexes the directory. The index points into d.Users, so d must not
// change while the index is in use. In a directory that Validate refuses,
// the first of two users with one email or id wins.
func (d *Directory) Index() *Index {
	ix := &Index{byEmail: make(map[string]*User, len(d.Users)), byID: make(map[string]*User, len(d.Users))}
	for i := range d.Users {
		u := &d.Users[i]
		if _, ok := ix.byID[u.ID]; !ok {
			ix.byID[u.ID] = u
		}
		if email := strings.ToLower(u.Email); ix.byEmail[email] == nil {
			ix.byEmail[email] = u
		}
	}
	return ix
}

// ByEmail finds the user with an email, compared case-insensitively.
func (ix *Index) ByEmail(email string) (*User, bool) {
	u, ok := ix.byEmail[strings.ToLower(email)]
	return u, ok
}

// ByID finds the user with an id.
func (ix *Index) ByID(id string) (*User, bool) {
	u, ok := ix.byID[id]
	return u, ok
}
