package keys

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// maxKeyFileBytes bounds what Load reads: a key file is well under 1 KiB.
const maxKeyFileBytes = 64 << 10

// KeyFile is the content of a key file: the signer and who holds it.
type KeyFile struct {
	Signer *Signer
	Owner  string // e.g. the authority or facility id
	Role   string // e.g. "issuer", "facility", "validator"
}

// Save writes s to path as JSON: the private JWK (with kid and alg) plus
// "owner" and "role" members. The file gets mode 0600 and missing parent
// directories are created (0700). Save never overwrites an existing file,
// so a key cannot be lost by mistake.
func Save(path string, s *Signer, owner, role string) error {
	if s == nil {
		return errors.New("keys: save: nil signer")
	}
	data, err := marshalKeyFile(s, owner, role)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("keys: save %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("keys: save %s: %w", path, err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("keys: save %s: %w", path, err)
	}
	return nil
}

// Load reads a key file written by Save and returns its signer.
func Load(path string) (*Signer, error) {
	kf, err := ReadKeyFile(path)
	if err != nil {
		return nil, err
	}
	return kf.Signer, nil
}

// ReadKeyFile reads a key file written by Save, with its owner and role.
func ReadKeyFile(path string) (*KeyFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keys: read key file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("keys: read key file %s: %w", path, err)
	}
	if len(data) > maxKeyFileBytes {
		return nil, fmt.Errorf("keys: key file %s is larger than %d bytes", path, maxKeyFileBytes)
	}
	kf, err := ParseKeyFile(data)
	if err != nil {
		return nil, fmt.Errorf("%w (key file %s)", err, path)
	}
	return kf, nil
}

// ParseKeyFile decodes the JSON of a key file.
func ParseKeyFile(data []byte) (*KeyFile, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil {
		return nil, fmt.Errorf("keys: not a JSON object: %w", err)
	}
	if members == nil {
		return nil, errors.New("keys: not a JSON object")
	}
	owner, err := stringMember(members, "owner")
	if err != nil {
		return nil, err
	}
	role, err := stringMember(members, "role")
	if err != nil {
		return nil, err
	}
	delete(members, "owner")
	delete(members, "role")
	jwkJSON, err := json.Marshal(members)
	if err != nil {
		return nil, fmt.Errorf("keys: re-encode JWK: %w", err)
	}
	if err := checkKeyType(members); err != nil {
		return nil, err
	}
	key, err := jwk.ParseKey(jwkJSON)
	if err != nil {
		return nil, fmt.Errorf("keys: not a valid JWK: %w", err)
	}
	s, err := FromJWK(key)
	if err != nil {
		return nil, err
	}
	return &KeyFile{Signer: s, Owner: owner, Role: role}, nil
}

func marshalKeyFile(s *Signer, owner, role string) ([]byte, error) {
	jwkJSON, err := json.Marshal(s.PrivateJWK())
	if err != nil {
		return nil, fmt.Errorf("keys: encode JWK: %w", err)
	}
	var members map[string]any
	if err := json.Unmarshal(jwkJSON, &members); err != nil {
		return nil, fmt.Errorf("keys: encode JWK: %w", err)
	}
	members["owner"] = owner
	members["role"] = role
	out, err := json.MarshalIndent(members, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("keys: encode key file: %w", err)
	}
	return append(out, '\n'), nil
}

// checkKeyType names the key type in the error before jwx sees the key, so
// an RSA or symmetric key file gets a clear message.
func checkKeyType(members map[string]json.RawMessage) error {
	kty, err := stringMember(members, "kty")
	if err != nil {
		return err
	}
	crv, err := stringMember(members, "crv")
	if err != nil {
		return err
	}
	switch {
	case kty == "OKP" && crv == "Ed25519":
	case kty == "EC" && (crv == "P-256" || crv == "P-384" || crv == "P-521"):
	case kty == "":
		return errors.New("keys: not a JWK: no \"kty\" member")
	default:
		return fmt.Errorf("keys: unsupported key type kty=%q crv=%q (want OKP Ed25519 or EC P-256)", kty, crv)
	}
	return nil
}

func stringMember(members map[string]json.RawMessage, name string) (string, error) {
	raw, ok := members[name]
	if !ok {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("keys: member %q must be a string", name)
	}
	return s, nil
}
