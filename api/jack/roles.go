package jack

// Role is what a JackUser may do in Jack. The sidecar's access policy maps
// each role to the API routes it may call.
// +kubebuilder:validation:Enum=admin;manager;staff
type Role string

const (
	// RoleAdmin may do everything, including settings and user management.
	RoleAdmin Role = "admin"
	// RoleManager may work with conversations, tasks, guests and reports.
	RoleManager Role = "manager"
	// RoleStaff may work with conversations and tasks.
	RoleStaff Role = "staff"
)

// Roles lists every role, most privileged first.
var Roles = []Role{RoleAdmin, RoleManager, RoleStaff}
