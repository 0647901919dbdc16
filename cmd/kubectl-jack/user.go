package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
	authv1alpha1 "github.com/jack-io/jack-operator/api/v1alpha1"
)

// passwordSecretKey is the data key user add writes the password under: the
// default of a JackUser's passwordSecretRef.key.
const passwordSecretKey = "password"

// passwordSecretSuffix makes the name of the Secret user add creates.
const passwordSecretSuffix = "-password"

// managedByPlugin is the app.kubernetes.io/managed-by value of the Secrets
// the plugin creates, so that they can be told from hand-made ones.
const managedByPlugin = programName

func newUserCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "user",
		Aliases: []string{"users", "ju"},
		Short:   "Add users, change their passwords, disable them, end their sessions",
	}
	cmd.AddCommand(newUserAddCmd(a), newUserPasswdCmd(a),
		newUserDisabledCmd(a, true), newUserDisabledCmd(a, false), newUserEndSessionsCmd(a))
	return cmd
}

func newUserAddCmd(a *app) *cobra.Command {
	var (
		email, role, display string
		pw                   passwordSource
		w                    = waitFlags{timeout: loginTimeout}
		out                  outputFlag
	)
	cmd := &cobra.Command{
		Use:   "add NAME --email EMAIL --role admin|manager|staff [--name DISPLAY] (--password-stdin | --generate) [--wait [--timeout DURATION]]",
		Short: "Create a JackUser and the Secret holding its password, together",
		Long: `Create a JackUser and the Secret holding its password (NAME-password, key
"password"), together: the JackUser is first checked by the API server (a
dry run), so an invalid email or role is refused with the API's own
sentence before anything is made; if the JackUser cannot be created, the
Secret is deleted again.

The Secret gets an owner reference to the JackUser, so deleting the user
deletes its password too.

With --generate the password is printed once, and never again: store it
or hand it over now.

With --wait, return once the user can log in at every replica: the
operator has hashed the password (the JackUser's Ready condition) and every
ready sidecar has confirmed that it logs the user in with it (the
Propagated condition; the kubelet brings the user directory to each pod a
minute or more after the operator writes it). If the operator says why the
user cannot log in (a password too short for its --min-password-length, an
email another user has), that is the error.`,
		Example: `  # A generated password, printed once
  kubectl jack user add alice --email alice@example.com --role manager --name "Alice Liddell" --generate

  # A password of your own, kept out of the shell history; wait until it works
  read -rs PW; printf '%s' "$PW" | kubectl jack user add bob --email bob@example.com --role staff --password-stdin --wait`,
		Args: exactlyOneName("user add", "the JackUser's name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := errors.Join(out.validate(), pw.validate(), w.validate(),
				required("--email", email, "the address the user logs in with"),
				required("--role", role, "admin, manager or staff")); err != nil {
				return err
			}
			if display == "" {
				display = args[0]
			}
			return a.userAdd(cmd.Context(), args[0], authv1alpha1.JackUserSpec{
				Email: email, Name: display, Role: jack.Role(role),
			}, &pw, &w, &out)
		},
	}
	cmd.Flags().StringVar(&email, "email", "", "The address the user logs in with (required)")
	cmd.Flags().StringVar(&role, "role", "", "What the user may do in Jack: admin, manager or staff (required)")
	cmd.Flags().StringVar(&display, "name", "", "The user's display name, shown by Jack (default: NAME)")
	_ = cmd.RegisterFlagCompletionFunc("role", roleCompletion)
	pw.addFlags(cmd)
	w.addFlags(cmd, false, "Wait until the user can log in at every replica (the Ready and Propagated conditions)")
	out.addFlag(cmd)
	return cmd
}

func (a *app) userAdd(ctx context.Context, name string, spec authv1alpha1.JackUserSpec, pw *passwordSource, w *waitFlags, out *outputFlag) error {
	c, ns, err := a.connect()
	if err != nil {
		return err
	}
	secretName := name + passwordSecretSuffix
	spec.PasswordSecretRef = authv1alpha1.PasswordSecretReference{Name: secretName, Key: passwordSecretKey}
	user := &authv1alpha1.JackUser{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: spec}

	// The API server's verdict first, before a password is read or a
	// Secret made: the CRD's sentences, and the webhook's (a taken email).
	if err := c.Create(ctx, user.DeepCopy(), client.DryRunAll); err != nil {
		return fmt.Errorf("the JackUser %s cannot be created: %w", name, err)
	}
	password, generated, err := pw.get(a.streams.In, a.streams.ErrOut)
	if err != nil {
		return err
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: ns, Labels: map[string]string{jack.LabelManagedBy: managedByPlugin}},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{passwordSecretKey: []byte(password)},
	}
	if err := c.Create(ctx, secret); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("a Secret named %s already exists in namespace %s: delete it, or create the JackUser with kubectl to use it", secretName, ns)
		}
		return fmt.Errorf("creating the password Secret %s: %w", secretName, err)
	}
	if err := c.Create(ctx, user); err != nil {
		// Nothing half made: the Secret goes with the user that failed.
		if derr := c.Delete(context.WithoutCancel(ctx), secret, client.Preconditions{UID: &secret.UID}); derr != nil && !apierrors.IsNotFound(derr) {
			return fmt.Errorf("the JackUser %s cannot be created: %w (and deleting its Secret %s failed too: %v; delete it by hand)", name, err, secretName, derr)
		}
		return fmt.Errorf("the JackUser %s cannot be created: %w", name, err)
	}
	if err := ownSecret(ctx, c, user, secret); err != nil {
		return fmt.Errorf("the JackUser %s and its Secret %s were created, but the Secret could not be made the user's, so it will not be deleted with it: %w", name, secretName, err)
	}
	sentence := fmt.Sprintf("jackuser/%s created, with its password in Secret %s", name, secretName)
	if w.wait {
		if err := waitFor(ctx, c, client.ObjectKeyFromObject(user), user, w.timeout, canLogIn); err != nil {
			if generated {
				// The user exists: its password must not be lost with the wait.
				printGenerated(a.streams, out, "Password of "+name, password)
			}
			return fmt.Errorf("jackuser/%s and its Secret %s were created, but %w", name, secretName, err)
		}
		sentence = fmt.Sprintf("jackuser/%s created, with its password in Secret %s; every ready sidecar logs the user in", name, secretName)
	}
	if err := out.print(a.streams.Out, user, sentence); err != nil {
		return err
	}
	if generated {
		printGenerated(a.streams, out, "Password of "+name, password)
	}
	return nil
}

// canLogIn is user add --wait's check: the JackUser is Ready (the operator
// hashed its password into the user directory) and Propagated for that
// password (every ready sidecar logs the user in with it). A reason that
// only a person can change (a password too short, an email or id another
// user holds, a user directory that is full or not the operator's) ends
// the wait at once.
func canLogIn(u *authv1alpha1.JackUser) error {
	cond := meta.FindStatusCondition(u.Status.Conditions, authv1alpha1.ConditionReady)
	switch {
	case cond == nil || cond.ObservedGeneration != u.Generation:
		return errors.New("the operator has not reported on it yet: is it running? (kubectl jack doctor)")
	case cond.Status == metav1.ConditionTrue:
		return loggedInEverywhere(u)
	}
	why := fmt.Errorf("the user cannot log in (%s): %s", cond.Reason, cond.Message)
	switch cond.Reason {
	case authv1alpha1.ReasonPasswordTooWeak:
		return &givingUp{fmt.Errorf("%w; set another with kubectl jack user passwd %s --generate", why, u.Name)}
	case authv1alpha1.ReasonDuplicateEmail, authv1alpha1.ReasonDuplicateID,
		authv1alpha1.ReasonDirectoryFull, authv1alpha1.ReasonDirectoryConflict:
		return &givingUp{why}
	}
	return why
}

// loggedInEverywhere is done once every ready sidecar has confirmed that it
// logs the user in with the password the status names.
func loggedInEverywhere(u *authv1alpha1.JackUser) error {
	cond := meta.FindStatusCondition(u.Status.Conditions, authv1alpha1.ConditionPropagated)
	switch {
	case cond == nil:
		return errors.New("the user can log in once every sidecar has the user directory, and the operator has not asked them yet (no Propagated condition; an operator older than this plugin never does: kubectl jack doctor)")
	case cond.Status == metav1.ConditionTrue && cond.ObservedGeneration == u.Generation && u.Status.PropagatedPasswordVersion == u.Status.PasswordVersion:
		return nil
	}
	return fmt.Errorf("not every sidecar logs the user in yet (Propagated %s, %s: %s); the kubelet brings the user directory to each pod a minute or more after the operator writes it",
		cond.Status, cond.Reason, cond.Message)
}

// ownSecret adds an owner reference from the password Secret to its user,
// so that garbage collection deletes the password with the user. Not a
// controller reference (the operator does not manage the Secret), and not
// blocking the owner's deletion, which would need permission on the
// JackUser's finalizers.
func ownSecret(ctx context.Context, c client.Client, user *authv1alpha1.JackUser, secret *corev1.Secret) error {
	before := secret.DeepCopy()
	secret.OwnerReferences = append(secret.OwnerReferences, metav1.OwnerReference{
		APIVersion: authv1alpha1.GroupVersion.String(), Kind: "JackUser", Name: user.Name, UID: user.UID,
	})
	return c.Patch(ctx, secret, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
}

func newUserPasswdCmd(a *app) *cobra.Command {
	var (
		pw  passwordSource
		w   = waitFlags{timeout: loginTimeout}
		out outputFlag
	)
	cmd := &cobra.Command{
		Use:   "passwd NAME (--password-stdin | --generate) [--wait [--timeout DURATION]]",
		Short: "Set a new password in the Secret a JackUser names",
		Long: `Set a new password in the Secret and key the JackUser's passwordSecretRef names
(creating the Secret, owned by the user, if it is missing). The operator
hashes it within seconds and ends the user's sessions: tokens issued before
are refused on every replica.

With --wait, return once the new password works at every replica: the
operator has hashed it (status.passwordVersion moved on, Ready) and every
ready sidecar has confirmed that it logs the user in with it (Propagated;
until the kubelet brings the new user directory to a pod, a minute or
more, that replica refuses the old password and the new one alike).

With --generate the password is printed once, and never again. -o json|yaml
prints the JackUser (never the Secret); a generated password then goes to
standard error.`,
		Example: `  kubectl jack user passwd alice --generate --wait
  printf '%s' "$NEW_PASSWORD" | kubectl jack user passwd alice --password-stdin -o yaml`,
		Args: exactlyOneName("user passwd", "the JackUser's name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := errors.Join(out.validate(), pw.validate(), w.validate()); err != nil {
				return err
			}
			return a.userPasswd(cmd.Context(), args[0], &pw, &w, &out)
		},
		ValidArgsFunction: a.completeNames(&authv1alpha1.JackUserList{}),
	}
	pw.addFlags(cmd)
	w.addFlags(cmd, false, "Wait until the new password works at every replica (status.passwordVersion moved on, Ready and Propagated)")
	out.addFlag(cmd)
	return cmd
}

func (a *app) userPasswd(ctx context.Context, name string, pw *passwordSource, w *waitFlags, out *outputFlag) error {
	c, ns, err := a.connect()
	if err != nil {
		return err
	}
	user := &authv1alpha1.JackUser{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, user); err != nil {
		return notFound(err, "JackUser", name, ns)
	}
	ref := user.Spec.PasswordSecretRef
	key := ref.Key
	if key == "" {
		key = passwordSecretKey
	}
	password, generated, err := pw.get(a.streams.In, a.streams.ErrOut)
	if err != nil {
		return err
	}
	// What the wait waits for: the operator's hash of this write. Writing
	// the password the Secret holds already changes nothing to wait for.
	oldVersion, written := user.Status.PasswordVersion, true
	secret := &corev1.Secret{}
	err = c.Get(ctx, types.NamespacedName{Namespace: ns, Name: ref.Name}, secret)
	switch {
	case apierrors.IsNotFound(err):
		secret = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: ref.Name, Namespace: ns, Labels: map[string]string{jack.LabelManagedBy: managedByPlugin},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: authv1alpha1.GroupVersion.String(), Kind: "JackUser", Name: user.Name, UID: user.UID}}},
			Type: corev1.SecretTypeOpaque,
			Data: map[string][]byte{key: []byte(password)},
		}
		if err := c.Create(ctx, secret); err != nil {
			return fmt.Errorf("creating the password Secret %s of JackUser %s: %w", ref.Name, name, err)
		}
	case err != nil:
		return fmt.Errorf("reading the password Secret %s of JackUser %s: %w", ref.Name, name, err)
	default:
		before := secret.DeepCopy()
		if secret.Data == nil {
			secret.Data = map[string][]byte{}
		}
		secret.Data[key] = []byte(password)
		if err := c.Patch(ctx, secret, client.MergeFrom(before)); err != nil {
			return fmt.Errorf("writing the new password into Secret %s of JackUser %s: %w", ref.Name, name, err)
		}
		written = secret.ResourceVersion != before.ResourceVersion
	}
	sentence := fmt.Sprintf("jackuser/%s: new password in Secret %s, key %s; the operator ends the user's sessions once it has hashed it", name, ref.Name, key)
	if w.wait {
		err := waitFor(ctx, c, client.ObjectKeyFromObject(user), user, w.timeout, func(u *authv1alpha1.JackUser) error {
			if written && u.Status.PasswordVersion == oldVersion {
				why := "the operator has not hashed the new password yet: is it running? (kubectl jack doctor)"
				if cond := meta.FindStatusCondition(u.Status.Conditions, authv1alpha1.ConditionReady); cond != nil && cond.Status != metav1.ConditionTrue {
					why = fmt.Sprintf("the operator has not hashed the new password yet (Ready %s, %s: %s)", cond.Status, cond.Reason, cond.Message)
				}
				return errors.New(why)
			}
			return canLogIn(u)
		})
		if err != nil {
			if generated {
				// The password is set: it must not be lost with the wait.
				printGenerated(a.streams, out, "Password of "+name, password)
			}
			return fmt.Errorf("the new password of jackuser/%s is in Secret %s, but %w", name, ref.Name, err)
		}
		sentence = fmt.Sprintf("jackuser/%s: new password in Secret %s, key %s; every ready sidecar logs the user in with it", name, ref.Name, key)
	}
	if err := out.print(a.streams.Out, user, sentence); err != nil {
		return err
	}
	if generated {
		printGenerated(a.streams, out, "Password of "+name, password)
	}
	return nil
}

// newUserDisabledCmd is user disable (disable true) or user enable.
func newUserDisabledCmd(a *app, disable bool) *cobra.Command {
	return newDisabledCmd(a, disable, disabledVerb{
		noun: "user", kind: "JackUser", example: "alice",
		enable: [2]string{"Let a disabled JackUser log in again",
			"Set spec.disabled to false: the user may log in again, with the same password."},
		disable: [2]string{"Stop a JackUser from logging in and end their sessions",
			"Set spec.disabled to true: every sidecar refuses the user's logins and tokens within\nseconds. The password and the user are kept; user enable undoes it."},
		object: func(name, ns string) client.Object {
			return &authv1alpha1.JackUser{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
		},
		list: &authv1alpha1.JackUserList{},
	})
}

func newUserEndSessionsCmd(a *app) *cobra.Command {
	var (
		w   waitFlags
		out outputFlag
	)
	cmd := &cobra.Command{
		Use:   "end-sessions NAME [--wait [--timeout DURATION]]",
		Short: "End every session of a JackUser, without changing their password",
		Long: `Ask the operator to end every session of the user (a fresh value of the
` + jack.AnnotationEndSessions + ` annotation): tokens issued before are refused, on
every replica; the user may log in again.

With --wait, return once every ready sidecar of the namespace has confirmed
it refuses them (the JackUser's SessionsEnded condition).`,
		Example: `  kubectl jack user end-sessions alice --wait`,
		Args:    exactlyOneName("user end-sessions", "the JackUser's name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := errors.Join(out.validate(), w.validate()); err != nil {
				return err
			}
			return a.userEndSessions(cmd.Context(), args[0], &w, &out)
		},
		ValidArgsFunction: a.completeNames(&authv1alpha1.JackUserList{}),
	}
	w.addFlags(cmd, false, "Wait until every ready sidecar refuses the ended sessions (the SessionsEnded condition)")
	out.addFlag(cmd)
	return cmd
}

func (a *app) userEndSessions(ctx context.Context, name string, w *waitFlags, out *outputFlag) error {
	c, ns, err := a.connect()
	if err != nil {
		return err
	}
	request := freshRequest(a.now())
	user := &authv1alpha1.JackUser{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, jack.AnnotationEndSessions, request)
	if err := c.Patch(ctx, user, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		return notFound(err, "JackUser", name, ns)
	}
	if !w.wait {
		return out.print(a.streams.Out, user, fmt.Sprintf("jackuser/%s: sessions end once the operator acts (%s=%s)", name, jack.AnnotationEndSessions, request))
	}
	err = waitFor(ctx, c, client.ObjectKeyFromObject(user), user, w.timeout, func(u *authv1alpha1.JackUser) error {
		if u.Status.LastEndSessionsRequest != request {
			return errors.New("the operator has not acted on the request yet: is it running? (kubectl jack doctor)")
		}
		cond := meta.FindStatusCondition(u.Status.Conditions, authv1alpha1.ConditionSessionsEnded)
		confirmed := u.Status.SessionsEndConfirmed != nil && u.Status.SessionsValidAfter != nil &&
			!u.Status.SessionsEndConfirmed.Before(u.Status.SessionsValidAfter)
		if !confirmed || cond == nil || cond.Status != metav1.ConditionTrue {
			if cond != nil && cond.Message != "" {
				return fmt.Errorf("the sessions ended, but not every sidecar has confirmed it: %s", cond.Message)
			}
			return errors.New("the sessions ended, but not every sidecar has confirmed it yet")
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ending the sessions of JackUser %s: %w", name, err)
	}
	return out.print(a.streams.Out, user, fmt.Sprintf("jackuser/%s: sessions ended; every ready sidecar refuses tokens issued before %s",
		name, user.Status.SessionsValidAfter.UTC().Format("2006-01-02T15:04:05Z")))
}

// notFound turns the API server's NotFound into a sentence naming the
// namespace, the usual cause being the wrong one.
func notFound(err error, kind, name, ns string) error {
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("there is no %s %s in namespace %s (use -n to choose another)", kind, name, ns)
	}
	return fmt.Errorf("%s %s: %w", kind, name, err)
}
