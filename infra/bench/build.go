package bench

import (
	"crypto/rand"
	"encoding/hex"
	"os"
)

// Functions are the four Lambda functions, as named under functions/.
var Functions = []string{"authorizer", "create", "list", "revoke"}

// FileSize is the size of a file in bytes.
func FileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// RandomHex returns n random bytes, hex-encoded.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
