package catalog

import "strings"

// Lifecycle actions (the publisher v4 change-lifecycle enum).
const (
	ActionPublish   = "Publish"
	ActionPrototype = "Deploy as a Prototype"
	ActionDemote    = "Demote to Created"
	ActionBlock     = "Block"
	ActionDeprecate = "Deprecate"
	ActionRepublish = "Re-Publish"
	ActionRetire    = "Retire"
)

// Transition is one edge of the lifecycle state machine.
type Transition struct {
	Event       string `json:"event"`
	TargetState string `json:"targetState"`
}

// transitions is WSO2's default API lifecycle (APICTL-FLOW.md §7.1), keyed
// by upper-case state, in the order the publisher shows the actions.
var transitions = map[string][]Transition{
	StatusCreated: {
		{ActionPublish, "Published"},
		{ActionPrototype, "Prototyped"},
	},
	StatusPrototyped: {
		{ActionPublish, "Published"},
		{ActionDemote, "Created"},
		{ActionPrototype, "Prototyped"},
	},
	StatusPublished: {
		{ActionBlock, "Blocked"},
		{ActionPrototype, "Prototyped"},
		{ActionDemote, "Created"},
		{ActionDeprecate, "Deprecated"},
		{ActionPublish, "Published"},
	},
	StatusBlocked: {
		{ActionDeprecate, "Deprecated"},
		{ActionRepublish, "Published"},
	},
	StatusDeprecated: {
		{ActionRetire, "Retired"},
	},
	StatusRetired: {},
}

// CheckItem is a lifecycle checklist entry.
type CheckItem struct {
	Name           string   `json:"name"`
	Value          bool     `json:"value"`
	RequiredStates []string `json:"requiredStates"`
}

// Checklist item names of the default lifecycle (on Created and Prototyped).
const (
	CheckDeprecateOld   = "Deprecate old versions after publishing the API"
	CheckResubscription = "Requires re-subscription when publishing the API"
)

// LifecycleState is the publisher's LifecycleState object.
type LifecycleState struct {
	State                string       `json:"state"`
	CheckItems           []CheckItem  `json:"checkItems"`
	AvailableTransitions []Transition `json:"availableTransitions"`
}

// TitleState turns CREATED into Created (the lifecycle configuration's form).
func TitleState(status string) string {
	s := strings.ToLower(status)
	if s == "" {
		return s
	}
	if s == "prototyped" || s == "published" || s == "created" || s == "blocked" || s == "deprecated" || s == "retired" {
		return strings.ToUpper(s[:1]) + s[1:]
	}
	return status
}

// StateOf returns the LifecycleState of an API in status.
func StateOf(status string) LifecycleState {
	st := LifecycleState{State: TitleState(status), CheckItems: []CheckItem{}, AvailableTransitions: []Transition{}}
	st.AvailableTransitions = append(st.AvailableTransitions, transitions[status]...)
	if status == StatusCreated || status == StatusPrototyped {
		st.CheckItems = []CheckItem{
			{Name: CheckDeprecateOld, Value: false, RequiredStates: []string{}},
			{Name: CheckResubscription, Value: false, RequiredStates: []string{}},
		}
	}
	return st
}

// NextState returns the upper-case state that action leads to from status,
// or false when the action is not allowed there. Actions compare
// case-insensitively, as WSO2's lifecycle executor does.
func NextState(status, action string) (string, bool) {
	for _, t := range transitions[status] {
		if strings.EqualFold(t.Event, action) {
			return strings.ToUpper(t.TargetState), true
		}
	}
	return "", false
}

// PathTo returns the actions that lead from one state to another (shortest
// first found, breadth-first), used when an import asks for a target status.
func PathTo(from, to string) ([]string, bool) {
	if from == to {
		return nil, true
	}
	type node struct {
		state   string
		actions []string
	}
	seen := map[string]bool{from: true}
	queue := []node{{from, nil}}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, t := range transitions[n.state] {
			next := strings.ToUpper(t.TargetState)
			if seen[next] {
				continue
			}
			acts := append(append([]string(nil), n.actions...), t.Event)
			if next == to {
				return acts, true
			}
			seen[next] = true
			queue = append(queue, node{next, acts})
		}
	}
	return nil, false
}

// ValidStatus reports whether s is a known lifecycle status.
func ValidStatus(s string) bool { _, ok := transitions[s]; return ok }
