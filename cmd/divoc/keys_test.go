package main

import "testing"

func TestCheckKeyOwnerRole(t *testing.T) {
	for _, c := range []struct {
		owner, role string
		ok          bool
	}{
		{"", "", true},
		{"facility/DEL010", "facility", true},
		{"authority/moh", "issuer", true},
		{"authority/moh", "governance", true},
		{"authority/moh", "auditor", true},
		{"", "issuer", true},
		{"authority/moh", "", true},
		{"authority/moh", "bogus", false},
		{"", "Issuer", false},
		{"moh", "issuer", false},
		{"authority/", "issuer", false},
		{"vaccinator/V1", "", false},
		{"facility/DEL010", "issuer", false},
		{"authority/moh", "facility", false},
	} {
		if err := checkKeyOwnerRole(c.owner, c.role); (err == nil) != c.ok {
			t.Errorf("owner %q role %q: %v, want ok=%v", c.owner, c.role, err, c.ok)
		}
	}
}
