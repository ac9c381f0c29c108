package outbox

// CopyUpgradeFile is copyUpgradeFile, for the package's external tests.
var CopyUpgradeFile = copyUpgradeFile
