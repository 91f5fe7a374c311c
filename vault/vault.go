// Package vault is the node's store for what must never go on the ledger:
// the personal data behind each certificate, the signed credentials, the
// vaccinators' names, upload jobs and lookup indexes. It is a Badger
// database private to one node.
package vault

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/divoc/divoc/divocfmt"
)

// Key prefixes.
const (
	pCert     = "cert/"   // cert/<id>            -> Record
	pUpload   = "upload/" // upload/<id>          -> Upload
	pEnroll   = "enroll/" // enroll/<facility>/<preEnrollmentCode>/<id> -> ""
	pGender   = "gender/" // gender/<id> -> the recipient's gender, for analytics (a small read, not the record)
	pVaccinat = "vacc/"   // vacc/<code>          -> divocfmt.Vaccinator
	pErased   = "erased/" // erased/<id>          -> time
	pNote     = "note/"   // note/<id>            -> an operator note
	pRID      = "rid/"    // rid/<rid>            -> certificate id of a health card
	pReport   = "report/" // report/<kind>/<hash> -> a feedback or AEFI report as submitted
)

// PutNote keeps an operator's note about a certificate (why it was revoked
// or corrected). Notes may name people, so they stay here; the ledger
// records a reason code.
func (v *Vault) PutNote(id, text string, at time.Time) error {
	b, err := json.Marshal(map[string]string{"text": text, "at": at.UTC().Format(time.RFC3339)})
	if err != nil {
		return err
	}
	return v.db.Update(func(txn *badger.Txn) error { return txn.Set([]byte(pNote+id), b) })
}

// Note returns the note about a certificate ("" if none).
func (v *Vault) Note(id string) string {
	var n map[string]string
	if v.getJSON(pNote+id, &n) != nil {
		return ""
	}
	return n["text"]
}

// PutReport keeps a report (feedback or an adverse event) as submitted,
// free text and all, under the hash the ledger records.
func (v *Vault) PutReport(kind, hash string, report []byte) error {
	return v.db.Update(func(txn *badger.Txn) error { return txn.Set([]byte(pReport+kind+"/"+hash), report) })
}

// PutRID records which certificate a SMART Health Card's revocation id
// stands for (the rid is a keyed hash of the id, so it cannot be read
// back).
func (v *Vault) PutRID(rid, id string) error {
	return v.db.Update(func(txn *badger.Txn) error { return txn.Set([]byte(pRID+rid), []byte(id)) })
}

// RID returns the certificate of a revocation id ("" if unknown).
func (v *Vault) RID(rid string) string {
	var id string
	_ = v.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(pRID + rid))
		if err != nil {
			return err
		}
		return item.Value(func(b []byte) error { id = string(b); return nil })
	})
	return id
}

// ErrNotFound is returned for a missing entry.
var ErrNotFound = errors.New("not found")

// Vault is the private store.
type Vault struct {
	db *badger.DB
}

// Open opens (or creates) the vault in dir.
func Open(dir string) (*Vault, error) {
	// Records are a few KB each (personal data and a signed credential):
	// they go to the value log, so that compactions move only keys and
	// pointers. With Badger's default threshold (1 MB) every record sits in
	// the LSM tree, and compaction rewrites it again and again: at a
	// million certificates that took a fifth of the node's CPU.
	opts := badger.DefaultOptions(dir).
		WithLogger(nil).
		WithValueThreshold(256).
		WithMemTableSize(32 << 20).
		WithNumMemtables(3).
		WithBlockCacheSize(64 << 20).
		WithIndexCacheSize(32 << 20).
		WithValueLogFileSize(256 << 20)
	db, err := badger.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open vault %s: %w", dir, err)
	}
	return &Vault{db: db}, nil
}

// Close closes the vault.
func (v *Vault) Close() error { return v.db.Close() }

// Record is everything the node keeps about one certificate: the facility's
// record as uploaded (personal data) and the signed credential. Whether it
// was anchored, and its status, are the ledger's to say.
type Record struct {
	ID         string               `json:"id"`
	Facility   string               `json:"facility"`
	Upload     string               `json:"upload,omitempty"`
	Cert       divocfmt.Certificate `json:"cert"`
	Credential string               `json:"credential"` // the vc+jwt
	Hash       string               `json:"hash"`       // sha256 of Credential, as anchored
	Replaces   string               `json:"replaces,omitempty"`
	CreatedAt  time.Time            `json:"created_at"`
	Committed  bool                 `json:"committed"`
	Height     int64                `json:"height,omitempty"`
	RejectCode string               `json:"reject_code,omitempty"`
	RejectWhy  string               `json:"reject_reason,omitempty"`
}

// PutRecords stores records in one transaction (before their anchors are
// submitted, so that an acknowledged certificate always has its data).
func (v *Vault) PutRecords(recs []*Record) error {
	wb := v.db.NewWriteBatch()
	defer wb.Cancel()
	for _, r := range recs {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		if err := wb.Set([]byte(pCert+r.ID), b); err != nil {
			return err
		}
		if err := wb.Set([]byte(pGender+r.ID), []byte(r.Cert.Recipient.Gender)); err != nil {
			return err
		}
		if code := r.Cert.PreEnrollmentCode; code != "" {
			if err := wb.Set([]byte(pEnroll+r.Facility+"/"+code+"/"+r.ID), nil); err != nil {
				return err
			}
		}
	}
	return wb.Flush()
}

// DeleteRecords removes records whose certificates the ledger refused: the
// node keeps no personal data, and no signed credential, for a vaccination
// that is not on the ledger.
func (v *Vault) DeleteRecords(recs []*Record) error {
	wb := v.db.NewWriteBatch()
	defer wb.Cancel()
	for _, r := range recs {
		if err := wb.Delete([]byte(pCert + r.ID)); err != nil {
			return err
		}
		if err := wb.Delete([]byte(pGender + r.ID)); err != nil {
			return err
		}
		if code := r.Cert.PreEnrollmentCode; code != "" {
			if err := wb.Delete([]byte(pEnroll + r.Facility + "/" + code + "/" + r.ID)); err != nil {
				return err
			}
		}
	}
	return wb.Flush()
}

// Gender is the recipient's gender of a certificate this vault holds,
// without reading the whole record (analytics count it for every event).
func (v *Vault) Gender(id string) (string, bool) {
	var g []byte
	err := v.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get([]byte(pGender + id))
		if err != nil {
			return err
		}
		g, err = it.ValueCopy(nil)
		return err
	})
	if err == nil {
		return string(g), true
	}
	if r, err := v.Record(id); err == nil { // a record stored before gender/ existed
		return r.Cert.Recipient.Gender, true
	}
	return "", false
}

// Record returns one certificate's record.
func (v *Vault) Record(id string) (*Record, error) {
	var r Record
	err := v.getJSON(pCert+id, &r)
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// ByPreEnrollment lists certificate ids a facility issued for an enrollment code.
func (v *Vault) ByPreEnrollment(facility, code string) ([]string, error) {
	prefix := []byte(pEnroll + facility + "/" + code + "/")
	var ids []string
	err := v.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			ids = append(ids, string(it.Item().Key()[len(prefix):]))
		}
		return nil
	})
	return ids, err
}

// Erase removes a person's data from a certificate record (the right to
// erasure): the credential and the uploaded record go; the ledger, which
// holds only keyed hashes, is untouched.
func (v *Vault) Erase(id string, at time.Time) error {
	r, err := v.Record(id)
	if err != nil {
		return err
	}
	return v.db.Update(func(txn *badger.Txn) error {
		if code := r.Cert.PreEnrollmentCode; code != "" {
			if err := txn.Delete([]byte(pEnroll + r.Facility + "/" + code + "/" + id)); err != nil {
				return err
			}
		}
		if err := txn.Delete([]byte(pCert + id)); err != nil {
			return err
		}
		if err := txn.Delete([]byte(pGender + id)); err != nil {
			return err
		}
		return txn.Set([]byte(pErased+id), []byte(at.UTC().Format(time.RFC3339)))
	})
}

// Upload is a submission's progress and its per-row outcome.
type Upload struct {
	ID       string `json:"id"`
	Facility string `json:"facility"`
	Kind     string `json:"kind"` // csv | json
	Status   string `json:"status"`
	Rows     int    `json:"rows"`
	Accepted int    `json:"accepted"`
	Rejected int    `json:"rejected"`
	Pending  int    `json:"pending"`
	// Unknown counts rows whose batch was submitted but not seen to
	// commit (a commit timeout, the node stopping): neither accepted nor
	// refused; they may still commit.
	Unknown   int                 `json:"unknown,omitempty"`
	Errors    []divocfmt.RowError `json:"errors"`
	Results   []RowResult         `json:"results,omitempty"`
	Batches   []string            `json:"batches,omitempty"` // tx hashes
	Height    int64               `json:"height,omitempty"`
	CreatedAt time.Time           `json:"created_at"`
	UpdatedAt time.Time           `json:"updated_at"`
	Message   string              `json:"message,omitempty"`
}

// RowResult is the outcome of one good row: its certificate, or why the
// ledger refused it.
type RowResult struct {
	Row         int    `json:"row"`
	Certificate string `json:"certificate,omitempty"`
	Code        string `json:"code"`
	Reason      string `json:"reason,omitempty"`
}

// Upload statuses.
const (
	UploadProcessing = "processing"
	UploadCommitted  = "committed"
	UploadFailed     = "failed"
	// UploadInterrupted: the node stopped while the upload was being
	// processed; rows with results were recorded, pending ones were not.
	UploadInterrupted = "interrupted"
)

// PutUpload stores an upload's state.
func (v *Vault) PutUpload(u *Upload) error {
	b, err := json.Marshal(u)
	if err != nil {
		return err
	}
	return v.db.Update(func(txn *badger.Txn) error { return txn.Set([]byte(pUpload+u.ID), b) })
}

// Upload returns an upload's state.
func (v *Vault) Upload(id string) (*Upload, error) {
	var u Upload
	if err := v.getJSON(pUpload+id, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// InterruptUploads marks every upload still processing as interrupted
// (called when a node starts: no job survives a restart) and returns how
// many it marked.
func (v *Vault) InterruptUploads(at time.Time) (int, error) {
	var stuck []*Upload
	err := v.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(pUpload), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var u Upload
			if err := it.Item().Value(func(b []byte) error { return json.Unmarshal(b, &u) }); err != nil {
				return err
			}
			if u.Status == UploadProcessing {
				stuck = append(stuck, &u)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, u := range stuck {
		u.Status, u.UpdatedAt = UploadInterrupted, at.UTC()
		u.Message = strings.TrimSpace(u.Message + fmt.Sprintf(" The node stopped while this upload was in progress: %d rows have results and were recorded as shown; %d were not processed. Submit those again (a row that was in fact recorded comes back as duplicate_dose).", len(u.Results), u.Pending))
		if err := v.PutUpload(u); err != nil {
			return 0, err
		}
	}
	return len(stuck), nil
}

// PutVaccinators stores vaccinators' details (names are personal data).
func (v *Vault) PutVaccinators(vs []divocfmt.Vaccinator) error {
	wb := v.db.NewWriteBatch()
	defer wb.Cancel()
	for _, x := range vs {
		b, err := json.Marshal(x)
		if err != nil {
			return err
		}
		if err := wb.Set([]byte(pVaccinat+x.Code), b); err != nil {
			return err
		}
	}
	return wb.Flush()
}

// Vaccinators lists the stored vaccinators.
func (v *Vault) Vaccinators() ([]divocfmt.Vaccinator, error) {
	var out []divocfmt.Vaccinator
	err := v.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(pVaccinat), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var x divocfmt.Vaccinator
			if err := it.Item().Value(func(b []byte) error { return json.Unmarshal(b, &x) }); err != nil {
				return err
			}
			out = append(out, x)
		}
		return nil
	})
	return out, err
}

func (v *Vault) getJSON(key string, out any) error {
	return v.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(key))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return item.Value(func(b []byte) error { return json.Unmarshal(b, out) })
	})
}
