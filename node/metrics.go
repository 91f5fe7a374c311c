package node

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/divoc/divoc/app"
)

// Metrics are the node's own Prometheus metrics (CometBFT's share the
// registry, under the cometbft_ namespace).
type Metrics struct {
	Height        prometheus.Gauge
	Events        *prometheus.CounterVec // by result code
	Transactions  *prometheus.CounterVec // by kind and code
	Certificates  prometheus.Counter
	Revocations   prometheus.Counter
	Uploads       *prometheus.CounterVec // by status
	RowErrors     *prometheus.CounterVec // by code
	SubmitLatency prometheus.Histogram
	HTTPDuration  *prometheus.HistogramVec // by route and status class
	Doses         *prometheus.CounterVec   // by program and vaccine
	AEFI          *prometheus.CounterVec   // by seriousness criterion ("none" when not serious)
	Feedback      prometheus.Counter
	Signals       prometheus.Counter
}

// NewMetrics registers the metrics in reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Height: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "divoc", Name: "block_height", Help: "Last committed height."}),
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "divoc", Name: "events_total",
			Help: "Vaccination events committed, by result code (ok or the rejection code)."}, []string{"code"}),
		Transactions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "divoc", Name: "transactions_total",
			Help: "Transactions committed, by kind and result code."}, []string{"kind", "code"}),
		Certificates: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "divoc", Name: "certificates_anchored_total", Help: "Certificates anchored (new and corrected)."}),
		Revocations:  prometheus.NewCounter(prometheus.CounterOpts{Namespace: "divoc", Name: "certificates_revoked_total", Help: "Certificates revoked or superseded."}),
		Uploads: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "divoc", Name: "uploads_total",
			Help: "Uploads processed, by final status."}, []string{"status"}),
		RowErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "divoc", Name: "upload_row_errors_total",
			Help: "Rows refused before reaching the ledger, by code."}, []string{"code"}),
		SubmitLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "divoc", Name: "submit_to_commit_seconds",
			Help: "Time from submitting a transaction to its commit.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 12)}),
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "divoc", Name: "http_request_duration_seconds",
			Help: "API request latency by route and status class.", Buckets: prometheus.ExponentialBuckets(0.001, 4, 9)}, []string{"route", "code"}),
		Doses: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "divoc", Name: "doses_total",
			Help: "Doses recorded on the ledger, by program and vaccine."}, []string{"program", "vaccine"}),
		AEFI: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "divoc", Name: "aefi_total",
			Help: "Adverse event reports recorded, by seriousness criterion (none: not serious; a report with two criteria counts under both)."}, []string{"seriousness"}),
		Feedback: prometheus.NewCounter(prometheus.CounterOpts{Namespace: "divoc", Name: "feedback_total", Help: "Feedback recorded."}),
		Signals:  prometheus.NewCounter(prometheus.CounterOpts{Namespace: "divoc", Name: "safety_signals_opened_total", Help: "Safety signals opened on vaccine batches."}),
	}
	reg.MustRegister(m.Height, m.Events, m.Transactions, m.Certificates, m.Revocations, m.Uploads, m.RowErrors, m.SubmitLatency, m.HTTPDuration,
		m.Doses, m.AEFI, m.Feedback, m.Signals)
	return m
}

func (m *Metrics) observeBlock(b *app.CommittedBlock) {
	m.Height.Set(float64(b.Height))
	for _, r := range b.Results {
		m.Transactions.WithLabelValues(r.Kind, string(r.Code)).Inc()
		for _, it := range r.Items {
			switch r.Kind {
			case app.KindRecord:
				m.Events.WithLabelValues(string(it.Code)).Inc()
				if it.Code == app.OK && it.Certificate != "" {
					m.Certificates.Inc()
				}
			case app.KindSupersede:
				if it.Code == app.OK {
					m.Certificates.Inc()
					m.Revocations.Inc()
				}
			case app.KindRevoke:
				if it.Code == app.OK {
					m.Revocations.Inc()
				}
			}
		}
	}
	for _, e := range b.Events {
		switch e.Kind {
		case app.EventVaccination:
			if e.Code == app.OK && e.Event != nil {
				m.Doses.WithLabelValues(e.Event.Program, e.Vaccine).Inc()
			}
		case app.EventAEFI:
			if len(e.Seriousness) == 0 {
				m.AEFI.WithLabelValues("none").Inc()
			}
			for _, s := range e.Seriousness {
				m.AEFI.WithLabelValues(s).Inc()
			}
		case app.EventFeedback:
			m.Feedback.Inc()
		case app.EventSignal:
			m.Signals.Inc()
		}
	}
}

func (m *Metrics) observeRequest(route string, status int, d time.Duration) {
	class := "2xx"
	switch {
	case status >= 500:
		class = "5xx"
	case status >= 400:
		class = "4xx"
	case status >= 300:
		class = "3xx"
	}
	m.HTTPDuration.WithLabelValues(route, class).Observe(d.Seconds())
}
