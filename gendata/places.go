package gendata

// Built-in lists: a dozen Indian states with several districts each, and
// names. Pincode prefixes and vehicle codes are the real ones for each place;
// the rest of every pincode is made up.

type state struct {
	name      string
	rto       string  // vehicle registration code, used in driving licence numbers
	lat, lon  float64 // rough centre, for facility coordinates
	districts []district
}

type district struct {
	name string
	code string // three letters, for facility codes such as PUN001
	pin  string // first three digits of the district's pincodes
}

var states = []state{
	{"Maharashtra", "MH", 19.7, 75.7, []district{
		{"Mumbai", "MUM", "400"}, {"Pune", "PUN", "411"}, {"Nashik", "NSK", "422"},
		{"Nagpur", "NAG", "440"}, {"Aurangabad", "AUR", "431"}, {"Kolhapur", "KOP", "416"}}},
	{"Karnataka", "KA", 15.3, 75.7, []district{
		{"Bengaluru Urban", "BLR", "560"}, {"Mysuru", "MYS", "570"}, {"Dakshina Kannada", "MNG", "575"},
		{"Dharwad", "HBL", "580"}, {"Belagavi", "BGM", "590"}, {"Bidar", "BDR", "585"}}},
	{"Tamil Nadu", "TN", 11.1, 78.7, []district{
		{"Chennai", "MAA", "600"}, {"Coimbatore", "CJB", "641"}, {"Madurai", "MDU", "625"},
		{"Salem", "SLM", "636"}, {"Tiruchirappalli", "TRZ", "620"}}},
	{"Kerala", "KL", 10.9, 76.3, []district{
		{"Thiruvananthapuram", "TRV", "695"}, {"Ernakulam", "COK", "682"},
		{"Kozhikode", "CCJ", "673"}, {"Thrissur", "TCR", "680"}}},
	{"Uttar Pradesh", "UP", 26.8, 80.9, []district{
		{"Lucknow", "LKO", "226"}, {"Kanpur Nagar", "KNP", "208"}, {"Varanasi", "VNS", "221"},
		{"Agra", "AGR", "282"}, {"Prayagraj", "PRG", "211"}, {"Ghaziabad", "GZB", "201"}}},
	{"West Bengal", "WB", 22.9, 87.9, []district{
		{"Kolkata", "CCU", "700"}, {"Howrah", "HWH", "711"}, {"Darjeeling", "DJL", "734"},
		{"Purba Bardhaman", "BWN", "713"}, {"Nadia", "NAD", "741"}}},
	{"Gujarat", "GJ", 22.3, 71.2, []district{
		{"Ahmedabad", "AMD", "380"}, {"Surat", "STV", "395"}, {"Vadodara", "BDQ", "390"},
		{"Rajkot", "RAJ", "360"}, {"Bhavnagar", "BHU", "364"}}},
	{"Rajasthan", "RJ", 27.0, 74.2, []district{
		{"Jaipur", "JAI", "302"}, {"Jodhpur", "JDH", "342"}, {"Udaipur", "UDR", "313"},
		{"Kota", "KTU", "324"}, {"Ajmer", "AJM", "305"}}},
	{"Telangana", "TS", 18.1, 79.0, []district{
		{"Hyderabad", "HYD", "500"}, {"Warangal", "WGL", "506"},
		{"Karimnagar", "KRN", "505"}, {"Nizamabad", "NZB", "503"}}},
	{"Delhi", "DL", 28.7, 77.1, []district{
		{"New Delhi", "DEL", "110"}, {"South Delhi", "SDL", "110"},
		{"North Delhi", "NDL", "110"}, {"East Delhi", "EDL", "110"}}},
	{"Bihar", "BR", 25.1, 85.3, []district{
		{"Patna", "PAT", "800"}, {"Gaya", "GAY", "823"},
		{"Muzaffarpur", "MFP", "842"}, {"Bhagalpur", "BGP", "812"}}},
	{"Odisha", "OD", 20.9, 85.1, []district{
		{"Khordha", "BBI", "751"}, {"Cuttack", "CTC", "753"},
		{"Puri", "PUR", "752"}, {"Ganjam", "GJM", "760"}}},
}

var villages = []string{
	"Rampur", "Sonapur", "Chandpur", "Devgaon", "Kalyanpur", "Shivpur", "Ramnagar", "Krishnapur",
	"Sitapur", "Bhimpur", "Nandgaon", "Jamalpur", "Lakshmipur", "Gopalpur", "Madhavpur", "Rajapur",
	"Haripur", "Sultanpur", "Islampur", "Govindpur", "Keshavpur", "Anandpur", "Vijaynagar", "Belgaon",
	"Malkapur", "Pimpalgaon", "Kondapur", "Tirupur", "Ambegaon", "Chinchwad",
}

var localities = []string{
	"Shivaji Nagar", "Gandhi Nagar", "Indira Nagar", "Nehru Colony", "Rajiv Nagar", "Model Town",
	"Civil Lines", "Sadar Bazaar", "Ambedkar Nagar", "Subhash Nagar", "Shastri Nagar", "Patel Nagar",
	"Tilak Nagar", "Azad Nagar", "Vivekananda Colony", "Old Town",
}

var streets = []string{
	"MG Road", "Station Road", "Main Road", "Market Road", "Temple Street", "Church Street",
	"Nehru Street", "Gandhi Road", "2nd Cross", "5th Main", "Hospital Road", "College Road",
	"Bazaar Street", "Lake View Road", "Ring Road", "Mill Road",
}

var landmarks = []string{
	"Near Bus Stand", "Behind Post Office", "Opposite Railway Station", "Near Hanuman Temple",
	"Near Government School", "Next to Panchayat Office", "Near Water Tank",
}

var privateBrands = []string{
	"Apollo", "Fortis", "Manipal", "Max", "Narayana", "Aster", "KIMS", "Care", "Sahyadri",
	"Ruby Hall", "Medanta", "Yashoda", "Jupiter", "Kauvery", "Amrita",
}

var privateKinds = []string{"Hospital", "Clinic", "Multispeciality Hospital", "Medical Centre"}

var maleNames = []string{
	"Aarav", "Abhishek", "Aditya", "Ajay", "Akash", "Amit", "Anand", "Anil", "Arjun", "Arun",
	"Ashok", "Bhaskar", "Chandan", "Deepak", "Dinesh", "Ganesh", "Gopal", "Harish", "Imran", "Jagdish",
	"Karthik", "Kiran", "Krishna", "Mahesh", "Manoj", "Mohammed", "Mukesh", "Naveen", "Nikhil", "Prakash",
	"Pranav", "Rahul", "Rajesh", "Rakesh", "Ramesh", "Ravi", "Rohit", "Sachin", "Sandeep", "Sanjay",
	"Santosh", "Satish", "Shankar", "Sharad", "Sooraj", "Srinivas", "Subhash", "Sunil", "Suresh", "Tarun",
	"Uday", "Varun", "Venkatesh", "Vijay", "Vikram", "Vinod", "Vishal", "Yash", "Yusuf", "Zubin",
}

var femaleNames = []string{
	"Aarti", "Aishwarya", "Anita", "Anjali", "Asha", "Bhavna", "Chitra", "Deepa", "Divya", "Farah",
	"Gayatri", "Geeta", "Hema", "Indira", "Jaya", "Jyoti", "Kavita", "Kiran", "Lakshmi", "Lata",
	"Madhuri", "Manisha", "Meena", "Megha", "Neha", "Nirmala", "Pooja", "Priya", "Radha", "Rani",
	"Rekha", "Revathi", "Ritu", "Rukmini", "Sangeeta", "Sarita", "Savitri", "Shabana", "Shanti", "Shilpa",
	"Shobha", "Sneha", "Sujata", "Sunita", "Swati", "Tanvi", "Uma", "Usha", "Vandana", "Vidya",
	"Yamini", "Zainab", "Nandini", "Pallavi", "Kamala", "Parvati", "Fatima", "Mary", "Leela", "Bindu",
}

var lastNames = []string{
	"Sharma", "Verma", "Gupta", "Singh", "Kumar", "Yadav", "Patel", "Shah", "Mehta", "Desai",
	"Joshi", "Kulkarni", "Patil", "Deshmukh", "Pawar", "Jadhav", "Shinde", "More", "Naik", "Gowda",
	"Reddy", "Rao", "Naidu", "Iyer", "Iyengar", "Pillai", "Nair", "Menon", "Kurup", "Krishnan",
	"Subramanian", "Murugan", "Pandian", "Das", "Ghosh", "Banerjee", "Chatterjee", "Mukherjee", "Bose", "Sen",
	"Mishra", "Tiwari", "Pandey", "Dubey", "Chauhan", "Rathore", "Meena", "Jain", "Agarwal", "Bansal",
	"Khan", "Ansari", "Qureshi", "Shaikh", "Siddiqui", "D'Souza", "Fernandes", "Thomas", "George", "Mathew",
	"Mohanty", "Patnaik", "Sahoo", "Behera", "Kaur", "Gill", "Sandhu", "Thakur", "Chaudhary", "Mitra",
}
