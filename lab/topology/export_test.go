package topology

// MaxProblems is maxProblems, for the external tests.
const MaxProblems = maxProblems
