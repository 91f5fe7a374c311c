package api

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/divoc/divoc/credential/qr"
)

// Formatter is what the format routes need: a certificate in a format
// (vc-jwt, dcc, shc), the text of its QR code, and the SMART Health Cards
// keys and revocation lists.
type Formatter interface {
	CertificateAs(id, format string) (string, error)
	QRText(format, text string) (string, error)
	SHCKeys() ([]byte, error)
	SHCRevocations(kid string) ([]byte, error)
}

// Certificate formats and their media types.
var formatTypes = map[string]string{
	"jwt":    "application/vc+jwt",
	"vc-jwt": "application/vc+jwt",
	"dcc":    "text/plain; charset=utf-8",
	"shc":    "application/smart-health-card",
}

func (s *server) formatter() (Formatter, error) {
	f, ok := s.Backend.(Formatter)
	if !ok {
		return nil, NewProblem(http.StatusNotImplemented, CodeInternal, "this node serves no other formats")
	}
	return f, nil
}

// certificateIn answers GET /v1/certificates/{id}?format=vc-jwt|dcc|shc.
func (s *server) certificateIn(w http.ResponseWriter, r *http.Request, c *Certificate, format string) error {
	mt, ok := formatTypes[format]
	if !ok {
		return NewProblem(http.StatusBadRequest, CodeBadRequest, "format must be vc-jwt, dcc or shc (or leave it out for the JSON view)").WithField("format", "enum")
	}
	if err := s.holderAccess(r, c); err != nil {
		return err
	}
	f, err := s.formatter()
	if err != nil {
		return err
	}
	text, err := f.CertificateAs(c.ID, format)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", mt)
	if format == "shc" {
		// The .smart-health-card file.
		_, err = fmt.Fprintf(w, "{\"verifiableCredential\":[%q]}\n", text)
		return err
	}
	_, err = io.WriteString(w, text)
	return err
}

func (s *server) shcKeys(w http.ResponseWriter, _ *http.Request) error {
	f, err := s.formatter()
	if err != nil {
		return err
	}
	b, err := f.SHCKeys()
	if err != nil {
		return err
	}
	return writeSHCDocument(w, b)
}

// writeSHCDocument serves a SMART Health Cards issuer document (keys, a
// revocation list): JSON that verifier web apps fetch from other origins.
func writeSHCDocument(w http.ResponseWriter, b []byte) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	_, err := w.Write(b)
	return err
}

func (s *server) shcCRL(w http.ResponseWriter, r *http.Request) error {
	f, err := s.formatter()
	if err != nil {
		return err
	}
	b, err := f.SHCRevocations(strings.TrimSuffix(chi.URLParam(r, "kid"), ".json"))
	if err != nil {
		return err
	}
	return writeSHCDocument(w, b)
}

// qrOf renders a certificate's QR code in a format.
func (s *server) qrOf(w http.ResponseWriter, c *Certificate, format string) error {
	f, err := s.formatter()
	if err != nil {
		return err
	}
	if _, ok := formatTypes[format]; !ok {
		return NewProblem(http.StatusBadRequest, CodeBadRequest, "format must be vc-jwt, dcc or shc").WithField("format", "enum")
	}
	text, err := f.CertificateAs(c.ID, format)
	if err != nil {
		return err
	}
	body, err := f.QRText(format, text)
	if err != nil {
		return err
	}
	return writeQR(w, body)
}

// writeQR answers with a PNG of a QR code (error correction L) holding
// text, and its version.
func writeQR(w http.ResponseWriter, text string) error {
	png, info, err := qr.EncodePNG(text, qr.WithECLevel("L"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("X-QR-Version", fmt.Sprint(info.Version))
	_, err = w.Write(png)
	return err
}
