// Package qr renders text (a signed credential) as a QR code PNG and reads
// the text back from a PNG.
package qr

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"strings"

	"github.com/makiuchi-d/gozxing"
	zxingqr "github.com/makiuchi-d/gozxing/qrcode"
	qrcode "github.com/yeqown/go-qrcode/v2"
	"github.com/yeqown/go-qrcode/writer/standard"
)

// Error correction levels: the share of the symbol that can be damaged and
// still read, about 7%, 15%, 25% and 30%.
const (
	ECLow      = "L"
	ECMedium   = "M"
	ECQuartile = "Q"
	ECHigh     = "H"
)

// Limits DecodePNG applies before it decodes an image.
const (
	MaxPNGBytes  = 10 << 20 // compressed size
	MaxPNGSide   = 8192     // width or height in pixels
	MaxPNGPixels = 16 << 20 // width × height: bounds the decoded image to 64 MiB of RGBA
)

const (
	defaultModulePixels = 5
	quietZoneModules    = 4 // ISO/IEC 18004 asks for 4 light modules around the symbol
)

// ErrNoQRCode is returned (wrapped) by DecodePNG when the image holds no
// readable QR code.
var ErrNoQRCode = errors.New("no QR code found in the image")

// errDecoderPanic marks an error that was a panic inside the QR reader.
var errDecoderPanic = errors.New("the QR reader failed")

// Info describes an encoded QR code.
type Info struct {
	Version int    // QR version, 1 to 40
	Modules int    // modules per side (17 + 4 × Version), without the quiet zone
	ECLevel string // "L", "M", "Q" or "H"
	Bytes   int    // size of the PNG
	Pixels  int    // image width and height, quiet zone included
}

type options struct {
	ecLevel      string
	modulePixels int
}

// Option tunes EncodePNG.
type Option func(*options)

// WithECLevel sets the error correction level ("L", "M", "Q" or "H"; the
// default is "M").
func WithECLevel(level string) Option {
	return func(o *options) { o.ecLevel = level }
}

// WithModulePixels sets the size of one module in pixels (1 to 50; the
// default is 5).
func WithModulePixels(px int) Option {
	return func(o *options) { o.modulePixels = px }
}

var ecLevels = map[string]qrcode.EncodeOption{
	ECLow:      qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionLow),
	ECMedium:   qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionMedium),
	ECQuartile: qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionQuart),
	ECHigh:     qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionHighest),
}

// EncodePNG renders text as a QR code in the lowest version that holds it
// at the chosen error correction level, as a black-and-white PNG with a
// quiet zone of 4 modules.
func EncodePNG(text string, opts ...Option) ([]byte, Info, error) {
	o := options{ecLevel: ECMedium, modulePixels: defaultModulePixels}
	for _, opt := range opts {
		opt(&o)
	}
	ec, ok := ecLevels[o.ecLevel]
	if !ok {
		return nil, Info{}, fmt.Errorf("qr: unknown error correction level %q (want L, M, Q or H)", o.ecLevel)
	}
	if o.modulePixels < 1 || o.modulePixels > 50 {
		return nil, Info{}, fmt.Errorf("qr: module size %d px is outside 1..50", o.modulePixels)
	}
	if text == "" {
		return nil, Info{}, errors.New("qr: nothing to encode")
	}
	code, err := qrcode.NewWith(text, ec, encodingMode(text))
	if err != nil {
		return nil, Info{}, fmt.Errorf("qr: %d bytes of text do not fit a QR code at level %s: %w", len(text), o.ecLevel, err)
	}
	var buf bytes.Buffer
	w := standard.NewWithWriter(nopCloser{&buf},
		standard.WithQRWidth(uint8(o.modulePixels)),
		standard.WithBorderWidth(quietZoneModules*o.modulePixels),
		standard.WithCustomImageEncoder(bilevelPNG{}),
	)
	if err := code.Save(w); err != nil {
		return nil, Info{}, fmt.Errorf("qr: draw PNG: %w", err)
	}
	modules := code.Dimension()
	info := Info{
		Version: (modules - 17) / 4,
		Modules: modules,
		ECLevel: o.ecLevel,
		Bytes:   buf.Len(),
		Pixels:  (modules + 2*quietZoneModules) * o.modulePixels,
	}
	return buf.Bytes(), info, nil
}

// encodingMode picks the densest QR mode for text: numeric, alphanumeric or
// byte. (The library's own detection may pick Kanji, which changes the bytes
// a reader returns.)
func encodingMode(text string) qrcode.EncodeOption {
	numeric, alphanumeric := true, true
	for _, r := range text {
		if r < '0' || r > '9' {
			numeric = false
		}
		if !('0' <= r && r <= '9' || 'A' <= r && r <= 'Z' || strings.ContainsRune(" $%*+-./:", r)) {
			alphanumeric = false
		}
	}
	switch {
	case numeric:
		return qrcode.WithEncodingMode(qrcode.EncModeNumeric)
	case alphanumeric:
		return qrcode.WithEncodingMode(qrcode.EncModeAlphanumeric)
	default:
		return qrcode.WithEncodingMode(qrcode.EncModeByte)
	}
}

// bilevelPNG writes the drawn code as a 1-bit paletted PNG: a fraction of
// the size of the RGBA image the writer draws.
type bilevelPNG struct{}

func (bilevelPNG) Encode(w io.Writer, img image.Image) error {
	palette := color.Palette{color.White, color.Black}
	b := img.Bounds()
	out := image.NewPaletted(b, palette)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y < 128 {
				out.SetColorIndex(x, y, 1)
			}
		}
	}
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	return enc.Encode(w, out)
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// DecodePNG reads the text of the QR code in a PNG image. It refuses PNGs
// over MaxPNGBytes or whose header declares more than MaxPNGSide pixels a
// side or MaxPNGPixels in all, before decoding any pixel data.
func DecodePNG(data []byte) (text string, err error) {
	if len(data) > MaxPNGBytes {
		return "", fmt.Errorf("qr: PNG is %d bytes, more than the %d allowed", len(data), MaxPNGBytes)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("qr: not a PNG image: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > MaxPNGSide || cfg.Height > MaxPNGSide || cfg.Width*cfg.Height > MaxPNGPixels {
		return "", fmt.Errorf("qr: PNG is %d×%d pixels; refusing images over %d pixels a side or %d pixels in all", cfg.Width, cfg.Height, MaxPNGSide, MaxPNGPixels)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("qr: decode PNG: %w", err)
	}
	return decodeImage(img)
}

func decodeImage(img image.Image) (text string, err error) {
	// gozxing is a port of Java code built around exceptions. Should it
	// panic on a hostile image, that must be an error for the caller, not a
	// crash of the node; the fuzz targets fail on errDecoderPanic, so such a
	// panic is still found. (Fuzzing has found none so far.)
	defer func() {
		if r := recover(); r != nil {
			text, err = "", fmt.Errorf("qr: %w: %w: %v", ErrNoQRCode, errDecoderPanic, r)
		}
	}()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", fmt.Errorf("qr: %w: %v", ErrNoQRCode, err)
	}
	hints := map[gozxing.DecodeHintType]any{
		gozxing.DecodeHintType_TRY_HARDER:    true,
		gozxing.DecodeHintType_CHARACTER_SET: "UTF-8",
	}
	res, err := zxingqr.NewQRCodeReader().Decode(bmp, hints)
	if err != nil {
		// The finder-pattern search misses some clean, computer-made codes
		// (the ones this node serves); reading the image as a pure barcode
		// (the code alone, upright, with its quiet zone) gets those.
		hints[gozxing.DecodeHintType_PURE_BARCODE] = true
		var again error
		if res, again = zxingqr.NewQRCodeReader().Decode(bmp, hints); again != nil {
			return "", fmt.Errorf("qr: %w: %v", ErrNoQRCode, err)
		}
	}
	return res.GetText(), nil
}
