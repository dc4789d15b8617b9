package service

// The upstream-image services (not buildable offline: their checks are
// SKIPPED where the environment allows their image to be missing).
const (
	// Elasticsearch: three nodes found through the headless Service
	// (manifests/base/elasticsearch); the elastic user's password is in
	// ElasticsearchSecret under ElasticsearchPasswordKey.
	ElasticsearchService     = "elasticsearch"
	ElasticsearchSecret      = "elasticsearch-credentials"
	ElasticsearchPasswordKey = "elastic-password"
	ElasticsearchUser        = "elastic"
	ElasticsearchPort        = 9200
	ElasticsearchNodes       = 3

	// Grafana: two replicas on the shared PostgreSQL
	// (manifests/base/grafana); the admin password is in GrafanaSecret.
	GrafanaService     = "grafana"
	GrafanaSecret      = "grafana-credentials"
	GrafanaPasswordKey = "admin-password"
	GrafanaUser        = "admin"
	GrafanaPort        = 3000

	// Loki: one single-binary server (manifests/base/loki).
	LokiService = "loki"
	LokiPort    = 3100
)
