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
	"github.com/divoc/divoc/app"
	"github.com/divoc/divoc/client"
	"github.com/divoc/divoc/credential"
	"github.com/divoc/divoc/credential/qr"
	"github.com/divoc/divoc/credential/vcjwt"
	"github.com/divoc/divoc/keys"
	"github.com/divoc/divoc/node"
	"github.com/divoc/divoc/receipt"
)

func verifyCmd() *cobra.Command {
	var nodeURL, trust, credArg string
	var offline, asJSON bool
	var ro receiptOptions
	c := &cobra.Command{
		Use:   "verify [FILE | -] [--credential STRING]",
		Short: "Verify a credential (text or a QR code PNG): online against a node, or offline against a trust list",
		Long: `verify reads a credential from a file (its text, or a PNG of its QR code), from
standard input (-) or from --credential. Online it reads every format the node
does: vc+jwt and its DV1: QR form, EU DCC (HC1:), SMART Health Cards (shc:/ or
a .smart-health-card file), vc+cose and legacy DIVOC JSON-LD; offline, this
node's vc+jwt and DV1:. Online (the default) it asks a node,
which checks the signature against the issuer keys on the ledger, that the
issuer was authorized, that the credential is anchored, and that it is not
revoked or superseded. With --offline it checks the signature and issuer
against a trust list file (GET /v1/trust/jwks saves one) and cannot see
revocations. Exits 1 if the credential is not valid.

Offline with a status receipt (GET /v1/certificates/{id}/status?proof=true,
stapled to the credential by its holder), it also checks the anchor and the
status, with nothing but the validators' keys:

  divoc verify --offline --trust validators.json --trust-list trustlist.json \
      --receipt receipt.json cert.jwt

--trust is then the validators to pin (GET /v1/trust/validators, or the
chain's genesis.json) and --trust-list the issuer keys: the ledger's trust
list (GET /v1/trust/list, verified against the validators) or a JWKS.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cred, err := readCredential(args, credArg)
			if err != nil {
				return err
			}
			var v *api.Verification
			if offline {
				if trust == "" && ro.trustList == "" {
					return fmt.Errorf("--offline needs --trust FILE (a JWKS from GET /v1/trust/jwks, or validators.json with --trust-list and --receipt)")
				}
				v, err = verifyOfflineWith(cred, trust, ro)
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
	f.StringVar(&trust, "trust", "", "for --offline: a JWKS of issuer keys (GET /v1/trust/jwks), or the validators to pin (GET /v1/trust/validators, or genesis.json) for --receipt and --trust-list")
	f.StringVar(&ro.trustList, "trust-list", "", "for --offline: the issuer keys, as the ledger's trust list (GET /v1/trust/list, verified against --trust) or a JWKS")
	f.StringVar(&ro.receipt, "receipt", "", "for --offline: the credential's status receipt (GET /v1/certificates/{id}/status?proof=true), verified against --trust")
	f.DurationVar(&ro.maxAge, "max-age", 7*24*time.Hour, "for --offline: the oldest receipt or trust list accepted (0: any age)")
	f.Int64Var(&ro.minHeight, "min-height", 0, "for --offline: refuse a receipt or trust list from below this height (e.g. after seeing a newer one)")
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

// verifyOfflineWith checks signature and issuer against the issuer keys of
// a JWKS or a verified trust list and, with a receipt, the anchor and the
// status (see checkReceipt).
func verifyOfflineWith(cred, trustFile string, ro receiptOptions) (*api.Verification, error) {
	issuers, validators, err := loadOfflineTrust(trustFile, &ro)
	if err != nil {
		return nil, err
	}
	switch {
	case strings.HasPrefix(cred, "HC1:"), strings.HasPrefix(cred, "shc:/"), strings.HasPrefix(cred, "{"):
		return nil, fmt.Errorf("offline verification reads this node's vc+jwt (or its DV1: QR form); verify an EU DCC, SMART Health Card or JSON-LD credential online (--node), which checks it against the keys on the ledger")
	case strings.Count(cred, ".") != 2 && !strings.HasPrefix(cred, vcjwt.CompactPrefix):
		return nil, fmt.Errorf("this is not a credential: a vc+jwt has three dot-separated parts, a QR code starts DV1:, HC1: or shc:/")
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
	if ro.receipt != "" {
		checkReceipt(v, cred, doc.ID, signer, validators, ro)
	} else {
		v.Checks = append(v.Checks, api.Check{Name: "status", OK: true, Detail: "not checked offline: revocation needs the ledger (or a status receipt)"})
	}
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

// receiptOptions are the flags of offline verification with a status
// receipt.
type receiptOptions struct {
	trustList, receipt string
	maxAge             time.Duration
	minHeight          int64
}

func (ro receiptOptions) policy() receipt.Policy {
	return receipt.Policy{MaxAge: ro.maxAge, MinHeight: ro.minHeight}
}

// loadOfflineTrust reads --trust (a JWKS, or validators to pin) and
// --trust-list (a JWKS, or a trust list verified against the validators)
// and returns the issuer keys and the pinned validators (nil without).
func loadOfflineTrust(trustFile string, ro *receiptOptions) ([]keys.PublicKeyInfo, *receipt.Trust, error) {
	var issuers []keys.PublicKeyInfo
	var validators *receipt.Trust
	haveKeys := false
	read := func(name string) ([]byte, map[string]json.RawMessage, error) {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, nil, err
		}
		var members map[string]json.RawMessage
		if err := json.Unmarshal(b, &members); err != nil {
			return nil, nil, fmt.Errorf("%s: not a JSON object: %w", name, err)
		}
		return b, members, nil
	}
	jwksIssuers := func(name string, b []byte) error {
		infos, err := keys.ParseJWKS(b)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		for _, k := range infos {
			if k.Role == "issuer" {
				issuers = append(issuers, k)
			}
		}
		haveKeys = true
		return nil
	}
	if trustFile != "" {
		b, members, err := read(trustFile)
		if err != nil {
			return nil, nil, err
		}
		if _, ok := members["validators"]; ok {
			if validators, err = receipt.ParseTrust(b); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", trustFile, err)
			}
		} else if err := jwksIssuers(trustFile, b); err != nil {
			return nil, nil, err
		}
	}
	if ro.trustList != "" {
		b, members, err := read(ro.trustList)
		if err != nil {
			return nil, nil, err
		}
		if _, ok := members["keys"]; ok && members["type"] == nil {
			if err := jwksIssuers(ro.trustList, b); err != nil {
				return nil, nil, err
			}
		} else {
			if validators == nil {
				return nil, nil, fmt.Errorf("%s is a ledger trust list: give the validators to verify it with --trust validators.json", ro.trustList)
			}
			tl, err := receipt.ParseTrustList(b)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", ro.trustList, err)
			}
			res, err := receipt.VerifyTrustList(tl, *validators, ro.policy())
			if err != nil {
				return nil, nil, fmt.Errorf("%s does not verify against %s: %w", ro.trustList, trustFile, err)
			}
			issuers, haveKeys = append(issuers, res.Issuers()...), true
		}
	}
	if !haveKeys {
		return nil, nil, fmt.Errorf("no issuer keys: give --trust-list (the ledger's trust list or a JWKS), or --trust with a JWKS")
	}
	if ro.receipt != "" && validators == nil {
		return nil, nil, fmt.Errorf("--receipt needs the validators to verify it with: --trust validators.json (GET /v1/trust/validators) or the chain's genesis.json")
	}
	return issuers, validators, nil
}

// checkReceipt verifies a stapled status receipt and adds its checks: the
// receipt itself (signed header, proofs, policy), that it is this
// credential's anchor, that the signing key was valid at the anchor's
// height, and the status.
func checkReceipt(v *api.Verification, cred, id string, signer keys.PublicKeyInfo, validators *receipt.Trust, ro receiptOptions) {
	b, err := os.ReadFile(ro.receipt)
	if err != nil {
		v.Checks = append(v.Checks, api.Check{Name: "receipt", Code: string(receipt.CodeMalformed), Detail: err.Error()})
		return
	}
	r, err := receipt.Parse(b)
	var res *receipt.Result
	if err == nil {
		res, err = receipt.Verify(r, *validators, ro.policy())
	}
	if err != nil {
		v.Checks = append(v.Checks, api.Check{Name: "receipt", Code: string(receipt.CodeOf(err)), Detail: "the status receipt does not verify: " + err.Error()})
		return
	}
	v.Height = res.Height
	v.Checks = append(v.Checks, api.Check{Name: "receipt", OK: true, Detail: fmt.Sprintf("status receipt of height %d, signed by %d of %d voting power of chain %s at %s",
		res.Height, res.SignedPower, res.TotalPower, res.ChainID, res.Time.UTC().Format(time.RFC3339))})
	if res.Certificate != id {
		v.Checks = append(v.Checks, api.Check{Name: "anchor", Code: "receipt_mismatch", Detail: "the receipt is of certificate " + res.Certificate + ", the credential is " + id})
		return
	}
	if err := res.CheckCredential([]byte(cred)); err != nil {
		v.Checks = append(v.Checks, api.Check{Name: "anchor", Code: string(receipt.CodeOf(err)), Detail: err.Error()})
		return
	}
	a := app.BatchRef{Height: res.Anchor.Height, Tx: res.Anchor.Tx, Pos: res.Anchor.Pos}
	v.Anchor = &a
	v.Checks = append(v.Checks, api.Check{Name: "anchor", OK: true, Detail: fmt.Sprintf("anchored at height %d (transaction %d, position %d)", a.Height, a.Tx, a.Pos)})
	if a.Height < signer.ValidFromHeight || (signer.ValidUntilHeight != 0 && a.Height > signer.ValidUntilHeight) {
		v.Checks = append(v.Checks, api.Check{Name: "key", Code: "unauthorized_issuer", Detail: fmt.Sprintf("key %s was not valid at height %d, when the certificate was anchored", signer.KID, a.Height)})
	}
	v.Status = res.Status
	switch res.Status {
	case receipt.StatusActive:
		v.Checks = append(v.Checks, api.Check{Name: "status", OK: true, Detail: fmt.Sprintf("not revoked or superseded as of height %d (%s)", res.Height, res.Time.UTC().Format(time.RFC3339))})
	case receipt.StatusSuperseded:
		v.Checks = append(v.Checks, api.Check{Name: "status", Code: receipt.StatusSuperseded, Detail: fmt.Sprintf("superseded by %s at height %d: %s", res.SupersededBy, res.StatusHeight, res.Reason)})
	default:
		v.Checks = append(v.Checks, api.Check{Name: "status", Code: receipt.StatusRevoked, Detail: fmt.Sprintf("revoked at height %d: %s", res.StatusHeight, res.Reason)})
	}
}
