package serialport

// SetFraming is setFraming.
var SetFraming = setFraming
