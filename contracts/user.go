package contracts

// UserCreated (user.created) says a platform user was created. The agent
// never acts on user events; they are here so the Go and TypeScript
// libraries describe the same catalogue.
type UserCreated struct {
	Event
	// Payload is the body of the message: see [UserPayload].
	Payload UserPayload `json:"payload"`
}

// UserUpdated (user.updated) says a platform user was changed.
type UserUpdated struct {
	Event
	// Payload is the body of the message: see [UserPayload].
	Payload UserPayload `json:"payload"`
}

// UserDeleted (user.deleted) says a platform user was deleted.
type UserDeleted struct {
	Event
	// Payload is the body of the message: see [UserPayload].
	Payload UserPayload `json:"payload"`
}

// UserPayload is the payload of the user events.
type UserPayload struct {
	// UserID is the user's id.
	UserID string `json:"userId"`
	// Email, when present, is the user's e-mail address.
	Email string `json:"email,omitzero"`
	// Name, when present, is the user's display name.
	Name string `json:"name,omitzero"`
}

func (*UserCreated) eventType() EventType { return TypeUserCreated }
func (*UserUpdated) eventType() EventType { return TypeUserUpdated }
func (*UserDeleted) eventType() EventType { return TypeUserDeleted }

func (m *UserCreated) payload() payload { return &m.Payload }
func (m *UserUpdated) payload() payload { return &m.Payload }
func (m *UserDeleted) payload() payload { return &m.Payload }

func (p *UserPayload) check() *Error { return requireString("payload.userId", p.UserID) }
