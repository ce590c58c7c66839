// Package auth is the trust between a frontend and its sites' agents: site
// key files, HMAC-SHA256 request signatures and a bounded replay window.
// The scheme is deliberately limited to what Python's standard library can
// do (hmac, hashlib), so Rocks' own tools can sign calls too; the exact
// wire format is in docs/agent-protocol.md.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// KeySize is the length of a site secret in bytes.
const KeySize = 32

// Key is one site's shared secret. Its String form shows only the id, so a
// Key can be logged by mistake without leaking the secret.
type Key struct {
	id     string
	secret [KeySize]byte
}

// ID is the first 16 hex characters of SHA-256 of the 32 key bytes.
func (k *Key) ID() string { return k.id }

// String never prints the secret.
func (k *Key) String() string { return "key:" + k.id }

// GoString keeps %#v from printing the secret too.
func (k *Key) GoString() string { return k.String() }

func newKey(secret [KeySize]byte) *Key {
	sum := sha256.Sum256(secret[:])
	return &Key{id: hex.EncodeToString(sum[:8]), secret: secret}
}

// ParseKey reads the file format: 64 hex characters, surrounding white
// space ignored.
func ParseKey(text []byte) (*Key, error) {
	s := strings.TrimSpace(string(text))
	if len(s) != 2*KeySize {
		return nil, fmt.Errorf("key must be %d hex characters, got %d characters", 2*KeySize, len(s))
	}
	var secret [KeySize]byte
	if _, err := hex.Decode(secret[:], []byte(s)); err != nil {
		return nil, errors.New("key is not hexadecimal")
	}
	return newKey(secret), nil
}

// LoadKey reads a site key file. Like ssh, it refuses a file that others
// may read: a leaked site key lets anyone start and stop that site's guests.
func LoadKey(path string) (*Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("key file %s: mode %04o lets others read it; chmod 600 it", path, st.Mode().Perm())
	}
	if st.Size() > 1024 {
		return nil, fmt.Errorf("key file %s: too large to be a key", path)
	}
	buf := make([]byte, st.Size())
	if _, err := f.ReadAt(buf, 0); err != nil && st.Size() > 0 {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	k, err := ParseKey(buf)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", path, err)
	}
	return k, nil
}

// GenerateKey makes a new random site key.
func GenerateKey() (*Key, error) {
	var secret [KeySize]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return nil, err
	}
	return newKey(secret), nil
}

// WriteKeyFile writes k in the key file format with mode 0600, refusing to
// overwrite an existing file.
func WriteKeyFile(path string, k *Key) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	var line [2*KeySize + 1]byte
	hex.Encode(line[:], k.secret[:])
	line[2*KeySize] = '\n'
	if _, err := f.Write(line[:]); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
