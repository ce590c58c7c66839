package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// kickstartScheme prefixes the MAC of a kickstart token, so a token can
// never be mistaken for (or made from) an agent call's signature.
const kickstartScheme = "vcluster-kickstart\n"

// TokenLen is the length of a kickstart token: 32 lower-case hex digits
// (128 bits of HMAC-SHA256).
const TokenLen = 32

// KickstartToken is the token that lets the guest named guest fetch its
// own kickstart from the home frontend's kickstart server: the first
// TokenLen lower-case hex digits of HMAC-SHA256(key, "vcluster-kickstart\n"
// + guest). It goes on the guest's kernel command line, so it is only as
// secret as the guest's definition on its container; it opens that one
// guest's kickstart and nothing else.
func KickstartToken(k *Key, guest string) string {
	m := hmac.New(sha256.New, k.secret[:])
	m.Write([]byte(kickstartScheme))
	m.Write([]byte(guest))
	return hex.EncodeToString(m.Sum(nil))[:TokenLen]
}

// CheckKickstartToken tells whether token is guest's, in time that does
// not depend on where a wrong token first differs.
func CheckKickstartToken(k *Key, guest, token string) bool {
	return hmac.Equal([]byte(KickstartToken(k, guest)), []byte(token))
}
