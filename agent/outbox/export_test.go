package outbox

// CopyUpgradeFile is copyUpgradeFile, for the package's external tests.
var CopyUpgradeFile = copyUpgradeFile

// ReadTxs counts the read transactions the store has begun on its file.
func (s *Store) ReadTxs() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.db.Stats().TxN
}
