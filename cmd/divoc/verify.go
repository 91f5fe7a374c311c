package main

import (
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/divoc/divoc/api"
	"github.com/divoc/divoc/client"
	"github.com/divoc/divoc/credential"
	"github.com/divoc/divoc/credential/qr"
	"github.com/divoc/divoc/credential/vcjwt"
	"github.com/divoc/divoc/keys"
	"github.com/divoc/divoc/node"
)

func verifyCmd() *cobra.Command {
	var nodeURL, trust, credArg string
	var offline, asJSON bool
	c := &cobra.Command{
		Use:   "verify [FILE | -] [--credential STRING]",
		Short: "Verify a credential (vc+jwt text, or a QR code PNG): online against a node, or offline against a trust list",
		Long: `verify reads a credential from a file (a vc+jwt, or a PNG of its QR code), from
standard input (-) or from --credential. Online (the default) it asks a node,
which checks the signature against the issuer keys on the ledger, that the
issuer was authorized, that the credential is anchored, and that it is not
revoked or superseded. With --offline it checks the signature and issuer
against a trust list file (GET /v1/trust/jwks saves one) and cannot see
revocations. Exits 1 if the credential is not valid.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cred, err := readCredential(args, credArg)
			if err != nil {
				return err
			}
			var v *api.Verification
			if offline {
				if trust == "" {
					return fmt.Errorf("--offline needs --trust FILE (a JWKS from GET /v1/trust/jwks)")
				}
				v, err = verifyOffline(cred, trust)
			} else {
				v, err = client.New(nodeURL, "").Verify(context.Background(), cred)
			}
			if err != nil {
				return err
			}
			if asJSON {
				b, _ := json.MarshalIndent(v, "", "  ")
				fmt.Println(string(b))
			} else {
				printVerification(os.Stdout, v)
			}
			if !v.Valid {
				os.Exit(1)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&nodeURL, "node", "http://127.0.0.1:8480", "node API URL")
	f.StringVar(&credArg, "credential", "", "the credential as a string")
	f.BoolVar(&offline, "offline", false, "verify without a node, against --trust")
	f.StringVar(&trust, "trust", "", "trust list (JWKS of issuer keys) for --offline")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	return c
}

func readCredential(args []string, s string) (string, error) {
	if s != "" {
		return strings.TrimSpace(s), nil
	}
	if len(args) == 0 {
		return "", fmt.Errorf("give a FILE, - for standard input, or --credential")
	}
	var b []byte
	var err error
	if args[0] == "-" {
		b, err = io.ReadAll(io.LimitReader(os.Stdin, 16<<20))
	} else {
		b, err = os.ReadFile(args[0])
	}
	if err != nil {
		return "", err
	}
	if len(b) > 8 && string(b[:8]) == "\x89PNG\r\n\x1a\n" {
		return qr.DecodePNG(b)
	}
	return strings.TrimSpace(string(b)), nil
}

// verifyOffline checks signature and issuer against a trust list.
func verifyOffline(cred, trustFile string) (*api.Verification, error) {
	b, err := os.ReadFile(trustFile)
	if err != nil {
		return nil, err
	}
	infos, err := keys.ParseJWKS(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", trustFile, err)
	}
	var issuers []keys.PublicKeyInfo
	for _, k := range infos {
		if k.Role == "issuer" {
			issuers = append(issuers, k)
		}
	}
	v := &api.Verification{Format: "vc+jwt", CheckedAt: time.Now().UTC()}
	if strings.HasPrefix(cred, vcjwt.CompactPrefix) {
		if cred, err = vcjwt.Expand(cred); err != nil {
			v.Checks = append(v.Checks, api.Check{Name: "signature", Code: string(vcjwt.CodeOf(err)), Detail: err.Error()})
			return v, nil
		}
	}
	res, err := vcjwt.Verify(cred, vcjwt.KeysResolver(issuers...), vcjwt.VerifyOptions{Now: time.Now()})
	if err != nil {
		v.Checks = append(v.Checks, api.Check{Name: "signature", Code: string(vcjwt.CodeOf(err)), Detail: err.Error()})
		return v, nil
	}
	var signer keys.PublicKeyInfo
	for _, k := range issuers {
		if k.KID == res.Header.KID && sameKey(k.Key, res.Key) {
			signer = k
		}
	}
	v.Checks = append(v.Checks, api.Check{Name: "signature", OK: true, Detail: "signed by trusted issuer key " + res.Header.KID})
	doc, err := credential.ParseDocument(res.Payload)
	if err != nil {
		v.Checks = append(v.Checks, api.Check{Name: "credential", Code: "bad_credential", Detail: err.Error()})
		return v, nil
	}
	v.Certificate = doc.ID
	v.Holder = api.HolderFactsOf(doc)
	ok := strings.HasPrefix(signer.Owner, "authority/") && doc.Issuer == node.IssuerURL(strings.TrimPrefix(signer.Owner, "authority/"))
	v.Checks = append(v.Checks, api.Check{Name: "issuer", OK: ok, Code: codeUnless(ok, "unauthorized_issuer"), Detail: "credential issuer " + doc.Issuer + ", key owner " + signer.Owner})
	v.Checks = append(v.Checks, api.Check{Name: "status", OK: true, Detail: "not checked offline: revocation needs the ledger (or a status receipt)"})
	v.Valid = true
	for _, c := range v.Checks {
		v.Valid = v.Valid && c.OK
	}
	return v, nil
}

func sameKey(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}

func codeUnless(ok bool, code string) string {
	if ok {
		return ""
	}
	return code
}

// printable escapes control characters, so that a credential cannot
// rewrite the terminal it is printed on (a name holding "\x1b[2J...VALID").
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '\uFFFD'
		}
		return r
	}, s)
}

func printVerification(w io.Writer, v *api.Verification) {
	verdict := "VALID"
	if !v.Valid {
		verdict = "NOT VALID"
	}
	fmt.Fprintf(w, "%s  %s certificate %s\n", verdict, v.Format, printable(v.Certificate))
	for _, c := range v.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "  [%s] %-10s %s\n", mark, c.Name, printable(c.Detail))
	}
	if h := v.Holder; h != nil {
		fmt.Fprintf(w, "  holder: %s (%s); %s dose %d/%d on %s at %s; issuer %s\n", printable(h.Name), printable(h.Identity), printable(h.Vaccine), h.Dose, h.TotalDoses, printable(h.Date), printable(h.Facility), printable(h.Issuer))
	}
}
