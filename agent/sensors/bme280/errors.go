package bme280

import "errors"

// Errors.
var (
	// ErrInvalidConfig: New was given a Config that Validate rejects; the
	// message names the field and the values it may take.
	ErrInvalidConfig = errors.New("invalid bme280 config")
	// ErrUnsupportedChip: the device at the address answered with the
	// chip id of neither a BME280 (0x60) nor a BMP280 (0x58): another
	// device, a BMP180, or a misconfigured address.
	ErrUnsupportedChip = errors.New("not a BME280 or BMP280")
)
