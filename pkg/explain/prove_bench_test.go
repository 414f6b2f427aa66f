package explain

import (
	"path/filepath"
	"testing"
)

// BenchmarkProofCockroachDB: 16 failing requests (raw TCP on a grpc port),
// each with three candidates; the proof builds one model per distinct
// patch set and re-traces each failing request per candidate.
func BenchmarkProofCockroachDB(b *testing.B) {
	wq := loadQuery(b, filepath.Join("testdata", "charts", "cockroachdb.yaml"), "db/cockroachdb-0 db/cockroachdb-1 --port 26257 --traffic tcp")
	b.ResetTimer()
	var st ProofStats
	for i := 0; i < b.N; i++ {
		e := NewEngine(wq.snap)
		if _, err := e.Explain(wq.q); err != nil {
			b.Fatal(err)
		}
		st = e.m.stats
	}
	b.ReportMetric(float64(st.Models), "models/op")
	b.ReportMetric(float64(st.Retraces), "retraces/op")
}
