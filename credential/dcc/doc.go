// Package dcc issues and verifies EU Digital COVID Certificates (DCC) for
// vaccinations: the HC1 format of the eHealth Network's specification, a
// CWT whose claim -260 holds the certificate (DCC JSON schema 1.3),
// signed as a COSE_Sign1 by a document signer certificate (DSC),
// compressed with zlib, base45-encoded and prefixed "HC1:".
//
// Verify reports every step the EU test data names (prefix, base45, zlib,
// COSE, CWT, signature, key usage, expiration, schema) plus the value
// sets, each ok or failed with a stable Code, and the holder's facts for
// display. It knows nothing of the ledger: the node supplies the trust
// list of DSCs and the clock.
package dcc
