package divocld

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// The QR code DIVOC printed on its certificates holds a ZIP archive with
// one file, certificate.json, compressed with DEFLATE (JSZip's
// generateAsync({type: "string"}) gives the archive as a "binary string",
// one character per byte, and node-qrcode writes that string in byte mode
// as UTF-8). A scanner that decodes byte mode as UTF-8 (as qr.DecodePNG
// does) therefore returns a string whose characters are the archive's
// bytes; one that returns the raw bytes gives the archive itself. ReadQR
// takes either.

// Limits of the QR reader.
const (
	// CertificateFile is the name of the certificate inside the archive.
	CertificateFile = "certificate.json"
	// MaxArchiveBytes bounds the archive (a QR code holds at most 2,953
	// bytes; its UTF-8 form at most twice as many).
	MaxArchiveBytes = 16 << 10
	// MaxUncompressedBytes bounds certificate.json once inflated: an
	// archive that declares or inflates to more is refused (zip bomb).
	MaxUncompressedBytes = MaxCertificateBytes
)

var zipMagic = []byte("PK\x03\x04")

// ReadQR returns the certificate.json inside the text of a DIVOC QR code.
func ReadQR(text string) ([]byte, error) {
	if len(text) > 2*MaxArchiveBytes {
		return nil, fail(CodeTooLarge, "QR text is %d bytes, more than %d", len(text), 2*MaxArchiveBytes)
	}
	return ReadZip(qrBytes(text))
}

// qrBytes turns scanned text into the archive's bytes: when the text is
// UTF-8 whose characters are all below U+0100 and some above U+007F, each
// character is one byte of the archive (DIVOC's binary string); otherwise
// the text's bytes are the archive.
func qrBytes(text string) []byte {
	if !utf8.ValidString(text) {
		return []byte(text)
	}
	high := false
	for _, r := range text {
		if r > 0xff {
			return []byte(text)
		}
		high = high || r >= 0x80
	}
	if !high {
		return []byte(text)
	}
	b := make([]byte, 0, len(text))
	for _, r := range text {
		b = append(b, byte(r))
	}
	return b
}

// QRText is the text a DIVOC QR code carries for an archive: each byte as
// one character (U+0000..U+00FF), in UTF-8. qr.EncodePNG writes it in byte
// mode exactly as DIVOC's node-qrcode did.
func QRText(archive []byte) string {
	var b strings.Builder
	b.Grow(2 * len(archive))
	for _, c := range archive {
		b.WriteRune(rune(c))
	}
	return b.String()
}

// ReadZip returns certificate.json from a DIVOC QR archive. The archive
// must hold exactly that one file, stored or DEFLATE-compressed, not
// encrypted, declaring and inflating to at most MaxUncompressedBytes;
// decompression stops at the limit.
func ReadZip(archive []byte) ([]byte, error) {
	if len(archive) > MaxArchiveBytes {
		return nil, fail(CodeTooLarge, "archive is %d bytes, more than %d", len(archive), MaxArchiveBytes)
	}
	if !bytes.HasPrefix(archive, zipMagic) {
		return nil, fail(CodeBadZip, "not a ZIP archive (no PK\\x03\\x04 header)")
	}
	zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		return nil, failWrap(CodeBadZip, err, "reading the archive")
	}
	if len(zr.File) != 1 {
		return nil, fail(CodeBadZip, "archive holds %d entries; a DIVOC QR holds only %s", len(zr.File), CertificateFile)
	}
	f := zr.File[0]
	if f.Name != CertificateFile {
		return nil, fail(CodeBadZip, "archive holds %q, not %s", f.Name, CertificateFile)
	}
	if f.Flags&0x1 != 0 {
		return nil, fail(CodeBadZip, "%s is encrypted", CertificateFile)
	}
	if f.Method != zip.Store && f.Method != zip.Deflate {
		return nil, fail(CodeBadZip, "%s uses compression method %d (only stored and DEFLATE are read)", CertificateFile, f.Method)
	}
	if f.UncompressedSize64 > MaxUncompressedBytes {
		return nil, fail(CodeTooLarge, "%s declares %d bytes uncompressed, more than %d", CertificateFile, f.UncompressedSize64, MaxUncompressedBytes)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, failWrap(CodeBadZip, err, "opening %s", CertificateFile)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, MaxUncompressedBytes+1))
	if len(data) > MaxUncompressedBytes {
		return nil, fail(CodeTooLarge, "%s inflates beyond %d bytes", CertificateFile, MaxUncompressedBytes)
	}
	if err != nil {
		return nil, failWrap(CodeBadZip, err, "inflating %s", CertificateFile)
	}
	return data, nil
}

// Zip builds a QR archive the way DIVOC did: certificate.json alone,
// DEFLATE-compressed. modified is the entry's time (DIVOC's was the time
// of printing); the zero time writes the DOS epoch.
func Zip(cert []byte, modified time.Time) ([]byte, error) {
	if len(cert) > MaxUncompressedBytes {
		return nil, fail(CodeTooLarge, "certificate is %d bytes, more than %d", len(cert), MaxUncompressedBytes)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: CertificateFile, Method: zip.Deflate, Modified: modified}
	if modified.IsZero() {
		h.Modified = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	w, err := zw.CreateHeader(h)
	if err != nil {
		return nil, failWrap(CodeBadZip, err, "creating the archive")
	}
	if _, err := w.Write(cert); err != nil {
		return nil, failWrap(CodeBadZip, err, "compressing")
	}
	if err := zw.Close(); err != nil {
		return nil, failWrap(CodeBadZip, err, "closing the archive")
	}
	return buf.Bytes(), nil
}

// VerifyQR reads the certificate in a DIVOC QR code's text and verifies it.
func VerifyQR(text string, resolve KeyResolver, opts Options) (*Result, error) {
	cert, err := ReadQR(text)
	if err != nil {
		return nil, err
	}
	return Verify(cert, resolve, opts)
}

// ReadCertificate returns the certificate JSON in any form a DIVOC
// certificate is presented in: the JSON itself, the archive of its QR code,
// or the scanned text of that QR code.
func ReadCertificate(data []byte) ([]byte, error) {
	if bytes.HasPrefix(data, zipMagic) {
		return ReadQR(string(data))
	}
	return data, nil
}

// Recognize reports whether data looks like a legacy DIVOC certificate,
// without verifying it: a QR archive (or its scanned text), or a JSON
// object whose proof is an Ed25519Signature2018 or RsaSignature2018. A
// node that accepts several formats uses it to pick this package.
func Recognize(data []byte) bool {
	if bytes.HasPrefix(data, zipMagic) {
		return true
	}
	t := bytes.TrimSpace(data)
	if len(t) == 0 || t[0] != '{' || len(t) > MaxCertificateBytes {
		return false
	}
	var probe struct {
		Proof struct {
			Type string `json:"type"`
		} `json:"proof"`
	}
	if json.Unmarshal(t, &probe) != nil {
		return false
	}
	_, ok := jwsAlgs[probe.Proof.Type]
	return ok
}
