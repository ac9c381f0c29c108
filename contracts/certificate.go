package contracts

import "time"

// CertificateCommandRotate (certificate.command.rotate) asks a device to
// renew its TLS client certificate now.
type CertificateCommandRotate struct {
	Command
	// Payload is the body of the message: see [CertificateCommandRotatePayload].
	Payload CertificateCommandRotatePayload `json:"payload"`
}

// CertificateCommandRotatePayload is the payload of [CertificateCommandRotate].
type CertificateCommandRotatePayload struct {
	// DeviceID is the device concerned.
	DeviceID string `json:"deviceId"`
	// Reason, when present, says why (an operator's note, "compromised").
	Reason string `json:"reason,omitzero"`
}

// CertificateCSRCreated (certificate.csr.created) carries a certificate
// signing request made on the device for a key that never leaves it.
type CertificateCSRCreated struct {
	Event
	// Payload is the body of the message: see [CertificateCSRCreatedPayload].
	Payload CertificateCSRCreatedPayload `json:"payload"`
}

// CertificateCSRCreatedPayload is the payload of [CertificateCSRCreated].
type CertificateCSRCreatedPayload struct {
	// DeviceID is the device concerned.
	DeviceID string `json:"deviceId"`
	// CSRPEM is the PKCS #10 request, PEM-encoded.
	CSRPEM string `json:"csrPem"`
	// Reason says what triggered the renewal ("expiring", "command",
	// "manual").
	Reason string `json:"reason"`
	// CurrentSerial, when present, is the serial number of the certificate
	// being replaced.
	CurrentSerial string `json:"currentSerial,omitzero"`
}

// CertificateIssued (certificate.issued) carries the certificate the
// backend's CA issued for a CSR; it has the CSR's correlationId.
type CertificateIssued struct {
	Event
	// Payload is the body of the message: see [CertificateIssuedPayload].
	Payload CertificateIssuedPayload `json:"payload"`
}

// CertificateIssuedPayload is the payload of [CertificateIssued].
type CertificateIssuedPayload struct {
	// DeviceID is the device concerned.
	DeviceID string `json:"deviceId"`
	// CertificatePEM is the leaf certificate, PEM-encoded.
	CertificatePEM string `json:"certificatePem"`
	// ChainPEM, when present, holds the intermediates, PEM-encoded.
	ChainPEM string `json:"chainPem,omitzero"`
	// SerialNumber is the leaf's serial number.
	SerialNumber string `json:"serialNumber"`
	// NotAfter is the end of the leaf's validity.
	NotAfter time.Time `json:"notAfter"`
}

// CertificateInstalled (certificate.installed) says a device now connects
// with a new certificate.
type CertificateInstalled struct {
	Event
	// Payload is the body of the message: see [CertificateInstalledPayload].
	Payload CertificateInstalledPayload `json:"payload"`
}

// CertificateInstalledPayload is the payload of [CertificateInstalled].
type CertificateInstalledPayload struct {
	// DeviceID is the device concerned.
	DeviceID string `json:"deviceId"`
	// SerialNumber is the new certificate's serial number.
	SerialNumber string `json:"serialNumber"`
	// NotAfter is the end of the new certificate's validity.
	NotAfter time.Time `json:"notAfter"`
	// PreviousSerial, when present, is the serial of the replaced
	// certificate.
	PreviousSerial string `json:"previousSerial,omitzero"`
}

// CertificateRotationFailed (certificate.rotation.failed) says a renewal
// failed and the device kept its current certificate.
type CertificateRotationFailed struct {
	Event
	// Payload is the body of the message: see [CertificateRotationFailedPayload].
	Payload CertificateRotationFailedPayload `json:"payload"`
}

// CertificateRotationFailedPayload is the payload of
// [CertificateRotationFailed].
type CertificateRotationFailedPayload struct {
	// DeviceID is the device concerned.
	DeviceID string `json:"deviceId"`
	// Reason says what failed, for people.
	Reason string `json:"reason"`
	// SerialNumber, when present, is the serial of the refused certificate.
	SerialNumber string `json:"serialNumber,omitzero"`
}

func (*CertificateCommandRotate) eventType() EventType  { return TypeCertificateCommandRotate }
func (*CertificateCSRCreated) eventType() EventType     { return TypeCertificateCSRCreated }
func (*CertificateIssued) eventType() EventType         { return TypeCertificateIssued }
func (*CertificateInstalled) eventType() EventType      { return TypeCertificateInstalled }
func (*CertificateRotationFailed) eventType() EventType { return TypeCertificateRotationFailed }

func (m *CertificateCommandRotate) payload() payload  { return &m.Payload }
func (m *CertificateCSRCreated) payload() payload     { return &m.Payload }
func (m *CertificateIssued) payload() payload         { return &m.Payload }
func (m *CertificateInstalled) payload() payload      { return &m.Payload }
func (m *CertificateRotationFailed) payload() payload { return &m.Payload }

func (p *CertificateCommandRotatePayload) check() *Error {
	return requireString("payload.deviceId", p.DeviceID)
}

func (p *CertificateCSRCreatedPayload) check() *Error {
	return firstError(
		requireString("payload.deviceId", p.DeviceID),
		requireString("payload.csrPem", p.CSRPEM),
		requireString("payload.reason", p.Reason),
	)
}

func (p *CertificateIssuedPayload) check() *Error {
	return firstError(
		requireString("payload.deviceId", p.DeviceID),
		requireString("payload.certificatePem", p.CertificatePEM),
		requireString("payload.serialNumber", p.SerialNumber),
		requireTime("payload.notAfter", p.NotAfter),
	)
}

func (p *CertificateInstalledPayload) check() *Error {
	return firstError(
		requireString("payload.deviceId", p.DeviceID),
		requireString("payload.serialNumber", p.SerialNumber),
		requireTime("payload.notAfter", p.NotAfter),
	)
}

func (p *CertificateRotationFailedPayload) check() *Error {
	return firstError(
		requireString("payload.deviceId", p.DeviceID),
		requireString("payload.reason", p.Reason),
	)
}
