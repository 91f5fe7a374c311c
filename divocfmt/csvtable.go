package divocfmt

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"
)

// tableSpec describes the columns of one CSV format.
type tableSpec struct {
	columns  []string   // every known column, in the order DIVOC writes them
	required []string   // columns the header must have
	oneOf    [][]string // groups of columns of which the header must have at least one
}

// csvTable reads a CSV file with a header row: it checks the header against
// a tableSpec, then yields data rows with trimmed, unescaped cells.
type csvTable struct {
	r       *csv.Reader
	spec    tableSpec
	index   map[string]int // column name -> cell position
	ncols   int
	maxRows int // < 0: no limit
	rows    int
}

// csvRow is one data row whose cell count matches the header.
type csvRow struct {
	line  int
	cells []string
	t     *csvTable
}

// get returns the cell of column col, or "" when the file has no such column.
// trimCell drops spaces and control characters around a cell (stray ones
// are common in exported spreadsheets: DIVOC's own sample has "Maharashtra"
// followed by two 0x10 bytes). Control characters inside a value are
// refused by the checks.
func trimCell(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) })
}

func (r csvRow) get(col string) string {
	if i, ok := r.t.index[col]; ok {
		return r.cells[i]
	}
	return ""
}

var (
	utf8BOM    = []byte{0xEF, 0xBB, 0xBF}
	utf16LEBOM = []byte{0xFF, 0xFE}
	utf16BEBOM = []byte{0xFE, 0xFF}
)

// openTable reads and checks the header. maxRows 0 means DefaultMaxRows and
// a negative maxRows means no limit.
func openTable(in io.Reader, spec tableSpec, maxRows int) (*csvTable, error) {
	br := bufio.NewReader(in)
	head, _ := br.Peek(3)
	switch {
	case bytes.HasPrefix(head, utf8BOM):
		br.Discard(len(utf8BOM))
	case bytes.HasPrefix(head, utf16LEBOM), bytes.HasPrefix(head, utf16BEBOM):
		return nil, csvError(CodeInvalidEncoding, 1, nil, "the file is UTF-16; save it as CSV UTF-8")
	}
	r := csv.NewReader(br)
	r.FieldsPerRecord = -1 // checked per row, as a row error
	r.TrimLeadingSpace = true
	header, err := r.Read()
	if err == io.EOF {
		return nil, csvError(CodeEmptyFile, 0, nil, "the file is empty; the first line must be the header")
	}
	if err != nil {
		return nil, fatalCSVError(err)
	}
	if maxRows == 0 {
		maxRows = DefaultMaxRows
	}
	t := &csvTable{r: r, spec: spec, index: make(map[string]int, len(header)), ncols: len(header), maxRows: maxRows}
	if err := t.checkHeader(header); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *csvTable) checkHeader(header []string) error {
	var unknown, dups []string
	for i, name := range header {
		name = strings.TrimSpace(name)
		switch {
		case name == "":
			unknown = append(unknown, fmt.Sprintf("(empty name in column %d)", i+1))
		case !slices.Contains(t.spec.columns, name):
			unknown = append(unknown, name)
		case t.has(name):
			dups = append(dups, name)
		default:
			t.index[name] = i
		}
	}
	var missing []string
	for _, col := range t.spec.required {
		if !t.has(col) {
			missing = append(missing, col)
		}
	}
	for _, group := range t.spec.oneOf {
		if !slices.ContainsFunc(group, t.has) {
			missing = append(missing, strings.Join(group, " or "))
		}
	}
	switch {
	case len(missing) > 0:
		msg := "the header lacks required column(s): " + strings.Join(missing, ", ")
		if len(unknown) > 0 {
			msg += "; it also has unknown column(s): " + strings.Join(unknown, ", ")
		}
		return csvError(CodeMissingColumns, 1, missing, "%s", msg)
	case len(unknown) > 0:
		return csvError(CodeUnknownColumns, 1, unknown,
			"unknown column(s): %s; the columns are: %s", strings.Join(unknown, ", "), strings.Join(t.spec.columns, ","))
	case len(dups) > 0:
		return csvError(CodeDuplicateColumns, 1, dups, "column(s) appear more than once: %s", strings.Join(dups, ", "))
	}
	return nil
}

func (t *csvTable) has(col string) bool {
	_, ok := t.index[col]
	return ok
}

// next returns the next data row. A row that cannot be read into cells (broken
// quoting, wrong cell count) comes back as rowErr; io.EOF ends the table; any
// other error is fatal.
// Rows whose cells are all empty (spreadsheets export them) are skipped.
func (t *csvTable) next() (row csvRow, rowErr *RowError, err error) {
	for {
		rec, err := t.r.Read()
		if err == io.EOF {
			return csvRow{}, nil, io.EOF
		}
		var perr *csv.ParseError
		if err != nil && !errors.As(err, &perr) {
			fe := csvError(CodeReadFailed, 0, nil, "reading the file: %v", err)
			fe.Err = err
			return csvRow{}, nil, fe
		}
		if err == nil && allEmpty(rec) {
			continue
		}
		t.rows++
		if t.maxRows > 0 && t.rows > t.maxRows {
			return csvRow{}, nil, csvError(CodeTooManyRows, 0, nil, "the file has more than %d rows; split it into smaller files", t.maxRows)
		}
		if perr != nil {
			return csvRow{}, &RowError{Row: perr.StartLine, Code: CodeCSVSyntax, Message: csvSyntaxMessage(perr)}, nil
		}
		line, _ := t.r.FieldPos(0)
		if len(rec) != t.ncols {
			return csvRow{}, &RowError{Row: line, Code: CodeWrongFieldCount,
				Message: fmt.Sprintf("the row has %d cells, the header has %d", len(rec), t.ncols)}, nil
		}
		for i, cell := range rec {
			rec[i] = UnescapeCSVCell(trimCell(cell))
		}
		return csvRow{line: line, cells: rec, t: t}, nil, nil
	}
}

func allEmpty(rec []string) bool {
	for _, cell := range rec {
		if strings.TrimSpace(cell) != "" {
			return false
		}
	}
	return true
}

func fatalCSVError(err error) error {
	var perr *csv.ParseError
	if errors.As(err, &perr) {
		return csvError(CodeCSVSyntax, perr.StartLine, nil, "header: %s", csvSyntaxMessage(perr))
	}
	fe := csvError(CodeReadFailed, 0, nil, "reading the file: %v", err)
	fe.Err = err
	return fe
}

func csvSyntaxMessage(perr *csv.ParseError) string {
	return fmt.Sprintf("broken quoting at line %d, column %d: %v (a cell with a quote must be wrapped in quotes, its quotes doubled)",
		perr.Line, perr.Column, perr.Err)
}

// writeTable writes header and rows as CSV, escaping every cell (in place).
func writeTable(w io.Writer, header []string, rows [][]string) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(header); err != nil {
		return err
	}
	for _, row := range rows {
		for i, cell := range row {
			row[i] = EscapeCSVCell(cell)
		}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
