package gendata

import (
	"fmt"
	"strings"

	"github.com/divoc/divoc/divocfmt"
)

// makeFacilities spreads the facilities over random districts: about two in
// three government ones (PHC, CHC, hospitals, mobile teams, outreach camps),
// the rest private hospitals and clinics.
func (g *generator) makeFacilities() {
	for i := 0; i < g.opts.Facilities; i++ {
		p := place{state: g.r.intn(len(states))}
		p.district = g.r.intn(len(states[p.state].districts))
		st, d := states[p.state], states[p.state].districts[p.district]
		govt := g.r.chance(0.65)
		ftype := "Fixed location"
		if govt {
			switch n := g.r.intn(10); {
			case n == 0:
				ftype = "Mobile"
			case n == 1:
				ftype = "Outreach"
			}
		}
		name, weight, brand := g.facilityName(govt, ftype, d.name)
		f := divocfmt.Facility{
			Row:                i + 2,
			Code:               g.facilityCode(d.code),
			Name:               name,
			Category:           divocfmt.CategoryPrivate,
			Type:               ftype,
			Status:             "Active",
			Address:            g.address(p),
			Contact:            g.mobile(),
			Email:              slug(name) + "@example.org",
			OperatingHourStart: fmt.Sprint(g.r.between(7, 10)),
			OperatingHourEnd:   fmt.Sprint(g.r.between(16, 20)),
			GeoLat:             fmt.Sprintf("%.4f", st.lat+g.r.float(-1, 1)),
			GeoLon:             fmt.Sprintf("%.4f", st.lon+g.r.float(-1, 1)),
			AdminName:          g.personName(g.r.chance(0.5)),
			AdminMobile:        g.mobile(),
		}
		if govt {
			f.Category = divocfmt.CategoryGovt
		} else {
			f.WebsiteURL = "www." + slug(brand) + ".example.org"
		}
		weight *= g.r.between(1, 3)
		g.facilities = append(g.facilities, f)
		g.places = append(g.places, p)
		g.facWeights = append(g.facWeights, weight)
		g.facTotal += weight
	}
}

// facilityName returns a unique name, how busy such a facility is (a
// relative weight), and for a private one its brand.
func (g *generator) facilityName(govt bool, ftype, districtName string) (name string, weight int, brand string) {
	for attempt := 0; ; attempt++ {
		switch {
		case ftype == "Mobile":
			name, weight = "Mobile Vaccination Team "+districtName, 2
		case ftype == "Outreach":
			name, weight = "Outreach Camp "+pick(g.r, villages), 1
		case govt:
			switch n := g.r.intn(20); {
			case n < 8:
				name, weight = "PHC "+pick(g.r, villages), 2
			case n < 12:
				name, weight = "CHC "+pick(g.r, villages), 4
			case n < 16:
				name, weight = "Urban PHC "+pick(g.r, localities), 4
			case n < 18:
				name, weight = "District Hospital "+districtName, 8
			case n < 19:
				name, weight = "Sub District Hospital "+pick(g.r, villages), 5
			default:
				name, weight = "Government Medical College Hospital "+districtName, 8
			}
		default:
			brand = pick(g.r, privateBrands)
			name, weight = brand+" "+pick(g.r, privateKinds)+" "+districtName, 3
		}
		if attempt >= 20 {
			name = fmt.Sprintf("%s Unit %d", name, attempt-18)
		}
		if g.unique("facility name:" + name) {
			return name, weight, brand
		}
	}
}

// facilityCode returns the district's three letters and three digits, like
// DIVOC's PUN001; numbers go up within a district.
func (g *generator) facilityCode(prefix string) string {
	n := g.r.between(1, 40)
	for tries := 0; ; tries++ {
		code := fmt.Sprintf("%s%03d", prefix, n%1000)
		if n%1000 != 0 && g.unique("facility code:"+code) {
			return code
		}
		n += g.r.between(1, 4)
		if tries > 5000 { // the district's 999 codes are used up
			panic("gendata: out of facility codes for " + prefix)
		}
	}
}

// makeVaccinators gives each facility its vaccinators; about one in ten
// also works at a second facility.
func (g *generator) makeVaccinators() {
	g.atFacility = make([][]int, len(g.facilities))
	for fi, f := range g.facilities {
		for k := 0; k < g.opts.VaccinatorsPerFacility; k++ {
			vi := len(g.vaccinators)
			name := g.uniquePersonName("vaccinator", g.r.chance(0.45))
			v := divocfmt.Vaccinator{
				Row:                vi + 2,
				Code:               fmt.Sprintf("VAC%05d", vi+1),
				Name:               name,
				NationalIdentifier: g.r.letters(3) + "P" + g.r.letters(1) + g.r.digits(4) + g.r.letters(1), // PAN-like
				Mobile:             g.mobile(),
				Email:              slug(name) + "@example.org",
				Status:             "Active",
				FacilityCodes:      []string{f.Code},
			}
			g.atFacility[fi] = append(g.atFacility[fi], vi)
			if len(g.facilities) > 1 && g.r.chance(0.1) {
				other := (fi + 1 + g.r.intn(len(g.facilities)-1)) % len(g.facilities)
				v.FacilityCodes = append(v.FacilityCodes, g.facilities[other].Code)
				g.atFacility[other] = append(g.atFacility[other], vi)
			}
			g.vaccinators = append(g.vaccinators, v)
		}
	}
}

// makeBatches gives each vaccine four to eight batch numbers in one of three
// styles seen on Indian vials (4121Z025, EBB6073, 33A21002).
func (g *generator) makeBatches() {
	for vi := range g.opts.Vaccines {
		n := g.r.between(4, 8)
		var list []string
		for len(list) < n {
			var b string
			switch vi % 3 {
			case 0:
				b = fmt.Sprintf("41%02dZ%03d", g.r.between(20, 22), g.r.between(1, 250))
			case 1:
				b = g.r.letters(3) + g.r.digits(4)
			default:
				b = fmt.Sprintf("%02d%s%02d%03d", g.r.between(10, 40), g.r.letters(1), g.r.between(20, 22), g.r.between(1, 999))
			}
			if g.unique("batch:" + b) {
				list = append(list, b)
			}
		}
		g.batches = append(g.batches, list)
	}
}

// personName returns "First Last".
func (g *generator) personName(female bool) string {
	first := pick(g.r, maleNames)
	if female {
		first = pick(g.r, femaleNames)
	}
	return first + " " + pick(g.r, lastNames)
}

// uniquePersonName returns a name not used before in namespace, adding a
// middle initial and then a number when the plain names run out.
func (g *generator) uniquePersonName(namespace string, female bool) string {
	for attempt := 0; ; attempt++ {
		name := g.personName(female)
		if attempt >= 10 {
			first, last, _ := strings.Cut(name, " ")
			name = first + " " + g.r.letters(1) + ". " + last
		}
		if attempt >= 40 {
			name = fmt.Sprintf("%s %d", name, attempt)
		}
		if g.unique(namespace + ":" + name) {
			return name
		}
	}
}

// mobile returns an Indian mobile number: ten digits starting with 6 to 9.
func (g *generator) mobile() string {
	return fmt.Sprint(g.r.between(6, 9)) + g.r.digits(9)
}

// address returns a street address in the place, with a pincode of its district.
func (g *generator) address(p place) divocfmt.Address {
	st := states[p.state]
	d := st.districts[p.district]
	a := divocfmt.Address{
		Line1:    fmt.Sprintf("%d, %s", g.r.between(1, 400), pick(g.r, streets)),
		District: d.name,
		State:    st.name,
		Pincode:  fmt.Sprintf("%s%03d", d.pin, g.r.between(1, 99)),
	}
	switch n := g.r.intn(10); {
	case n < 5:
		a.Line2 = pick(g.r, localities)
	case n < 7:
		a.Line2 = pick(g.r, landmarks)
	}
	return a
}

// slug lower-cases s and joins its words with dots: "PHC Rampur" -> "phc.rampur".
func slug(s string) string {
	var b strings.Builder
	dot := false
	for _, c := range strings.ToLower(s) {
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			if dot && b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteRune(c)
			dot = false
		} else {
			dot = true
		}
	}
	return b.String()
}
