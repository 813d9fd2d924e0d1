package config

// Defaults returns the bottom layer of every environment: what an
// environment gets for each field neither `defaults:` nor the environment
// itself sets. Sizes are small-but-real (a test-sized platform); the
// description sets production sizes.
func Defaults() Environment {
	// Seed 004's targets: 70 % CPU, 80 % memory; five minutes of low load
	// before a pod is removed. Every workload carries them (the reference
	// documents one shape); validation refuses autoscaling where it cannot work.
	scaling := Autoscaling{MinReplicas: 2, MaxReplicas: 4, CPU: 70, Memory: 80, ScaleDownStabilization: "5m"}
	w := func(replicas int32, reqCPU, reqMem, limCPU, limMem string) Workload {
		return Workload{
			Autoscaling: scaling,
			Replicas:    Replicas(replicas),
			Resources: Resources{
				Requests: CPUMemory{CPU: Q(reqCPU), Memory: Q(reqMem)},
				Limits:   CPUMemory{CPU: Q(limCPU), Memory: Q(limMem)},
			},
		}
	}
	// A fresh pointer each: decoding `enabled: true` writes through it.
	optional := func(x Workload) Workload { off := false; x.Enabled = &off; return x }
	off, off2, on, on2, on3, on4 := false, false, true, true, true, true
	return Environment{
		Images: Images{
			// postgres:14.13 is what seed 000 runs today; the others are the
			// current releases of the versions InvenioRDM v12 supports.
			PostgreSQL: Image{"postgres", "14.13"},
			Redis:      Image{"redis", "7.4.2"},
			RabbitMQ:   Image{"rabbitmq", "3.13.7-management"},
			OpenSearch: Image{"opensearchproject/opensearch", "2.17.1"},
			Dashboards: Image{"opensearchproject/opensearch-dashboards", "2.17.1"},
			Nginx:      Image{"nginxinc/nginx-unprivileged", "1.27.4-alpine"},
			PgAdmin:    Image{"dpage/pgadmin4", "8.14"},
			// Exporters (monitoring), pinned to releases of early 2025 whose
			// flags and environment variables the generator uses; newer
			// ones exist (docs/operations.md): bump deliberately.
			PostgresExporter: Image{"quay.io/prometheuscommunity/postgres-exporter", "v0.17.1"},
			RedisExporter:    Image{"oliver006/redis_exporter", "v1.67.0"},
			NginxExporter:    Image{"nginx/nginx-prometheus-exporter", "1.4.1"},
			Restic:           Image{"restic/restic", "0.18.0"},
		},
		Auth: Auth{
			Mode: AuthPassword,
			SAML: SAML{
				EmailAttribute:      "urn:oid:0.9.2342.19200300.100.1.3",
				NameAttribute:       "urn:oid:2.5.4.42",
				SurnameAttribute:    "urn:oid:2.5.4.4",
				ExternalIDAttribute: "urn:oid:1.3.6.1.4.1.5923.1.1.1.6",
			},
		},
		Ingress: Ingress{
			Exposure: ExposureGateway,
			Gateway: Gateway{
				ClassName:          EnvoyGatewayClass,
				DataPlaneNamespace: "envoy-gateway-system",
				DataPlaneLabels:    map[string]string{"app.kubernetes.io/name": "envoy", "app.kubernetes.io/component": "proxy"},
			},
			Route: Route{
				RouterNamespaceLabels: map[string]string{"policy-group.network.openshift.io/ingress": ""},
			},
			ClassName:           "nginx",
			ClusterIssuer:       "letsencrypt-prod",
			ControllerNamespace: "ingress-nginx",
			// component=controller: the chart's admission-webhook Jobs share the name label.
			ControllerLabels: map[string]string{"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"},
			MaxUploadSize:    Q("50Gi"),
			IdleTimeout:      "180s",
		},
		Storage: Storage{
			ReadWriteOnceClass: "ceph-rbd",
			ReadWriteManyClass: "cephfs",
			Files:              Q("100Gi"),
			PostgreSQL:         Q("20Gi"),
			OpenSearch:         Q("30Gi"),
			RabbitMQ:           Q("2Gi"),
			Redis:              Q("1Gi"),
			PgAdmin:            Q("1Gi"),
		},
		Database: Database{Name: "invenio", User: "invenio"},
		Search:   Search{IndexPrefix: "invenio", HeapSize: Q("1Gi")},
		App: App{
			SiteName:          "InvenioRDM",
			ProxyCount:        2,
			UWSGIProcesses:    2,
			UWSGIThreads:      4,
			WorkerConcurrency: 2,
			LogLevel:          "INFO",
		},
		Workloads: Workloads{
			WebUI:      w(1, "250m", "768Mi", "1", "1536Mi"),
			WebAPI:     w(1, "250m", "768Mi", "1", "1536Mi"),
			Frontend:   w(1, "50m", "64Mi", "500m", "256Mi"),
			Worker:     w(1, "250m", "768Mi", "1", "2Gi"),
			Beat:       w(1, "50m", "256Mi", "250m", "512Mi"),
			Setup:      w(1, "250m", "768Mi", "1", "1536Mi"),
			PostgreSQL: w(1, "250m", "512Mi", "2", "2Gi"),
			Redis:      w(1, "50m", "128Mi", "500m", "512Mi"),
			RabbitMQ:   w(1, "100m", "256Mi", "1", "1Gi"),
			OpenSearch: w(1, "500m", "2Gi", "2", "2Gi"),
			Dashboards: optional(w(1, "100m", "512Mi", "1", "1Gi")),
			PgAdmin:    optional(w(1, "50m", "256Mi", "500m", "512Mi")),
		},
		Sealing: Sealing{
			ControllerName:      "sealed-secrets-controller",
			ControllerNamespace: "kube-system",
		},
		Monitoring: Monitoring{
			PrometheusNamespace: "monitoring",
			PrometheusLabels:    map[string]string{"app.kubernetes.io/name": "prometheus"},
			SelectorLabels:      map[string]string{"release": "kube-prometheus-stack"},
			Interval:            "30s",
		},
		Reports: Reports{LargestFiles: LargestFiles{Schedule: "17 3 * * *", Top: 20}},
		Secrets: Secrets{
			App:        "invenio-app",
			PostgreSQL: "invenio-postgresql",
			RabbitMQ:   "invenio-rabbitmq",
			Redis:      "invenio-redis",
			PgAdmin:    "invenio-pgadmin",
			SAML:       "invenio-saml",
			Backup:     "invenio-backup",
		},
		Backup: Backup{
			Enabled:    &off,
			Schedule:   "0 2 * * *",
			KeepDaily:  30,
			Target:     BackupTarget{S3: S3Target{Region: "us-east-1"}},
			Database:   &on4,
			Files:      &on,
			OpenSearch: &on2,
			RestoreCheck: RestoreCheck{
				Enabled:     &on3,
				Schedule:    "0 4 1 * *",
				SampleFiles: 20,
			},
			Restore: Restore{Enabled: &off2},
			Resources: Resources{
				Requests: CPUMemory{CPU: Q("100m"), Memory: Q("256Mi")},
				Limits:   CPUMemory{CPU: Q("1"), Memory: Q("1Gi")},
			},
		},
	}
}

// DefaultSite is the bottom layer of the site section.
func DefaultSite() Site {
	return Site{Name: "inveniordm", PartOf: "inveniordm", ManagedBy: "invenio-gitops"}
}

// DefaultCluster is the bottom layer of an entry of clusters.
func DefaultCluster() Cluster {
	return Cluster{Distribution: DistributionKubernetes}
}

// DefaultGitOps is the bottom layer of the gitops section.
func DefaultGitOps() GitOps {
	return GitOps{
		Branch:         "main",
		SecretRef:      "flux-system",
		Namespace:      "flux-system",
		SourceInterval: "1m",
		Interval:       "10m",
		RetryInterval:  "2m",
		Timeout:        "15m",
	}
}

// DefaultInfrastructure is the bottom layer of the infrastructure section.
// Chart versions are the ones this generator was tested with (see
// docs/flux.md); sealed-secrets 2.18.3 is the chart the v0.36 module ships.
func DefaultInfrastructure() Infrastructure {
	on := func() *bool { t := true; return &t }
	return Infrastructure{
		ACME: ACME{Servers: map[string]HTTPSURL{
			"letsencrypt-prod":    "https://acme-v02.api.letsencrypt.org/directory",
			"letsencrypt-staging": "https://acme-staging-v02.api.letsencrypt.org/directory",
		}},
		CertManager:   Chart{Install: on(), Version: "v1.21.2"},
		IngressNginx:  Chart{Install: on(), Version: "4.13.0"},
		EnvoyGateway:  Chart{Install: on(), Version: "v1.9.1"},
		SealedSecrets: Chart{Install: on(), Version: "2.18.3"},
	}
}
