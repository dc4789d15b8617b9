package validate

import (
	"sort"
)

// Layer is the pass a rule belongs to.
type Layer string

const (
	LayerSchema Layer = "schema" // what the API server would reject
	LayerPolicy Layer = "policy" // what the platform's standards reject
	LayerXRef   Layer = "xref"   // references between objects of the set
)

// Severity of a finding. Errors fail validation; warnings do not.
type Severity string

const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Rule is one check: its ID is what findings and suppressions name.
type Rule struct {
	ID        string   `json:"id"`
	Layer     Layer    `json:"layer"`
	Severity  Severity `json:"severity"`
	Summary   string   `json:"summary"`
	Rationale string   `json:"rationale"`
	Hint      string   `json:"hint"`
}

// SuppressionPrefix starts the annotation that silences a rule on one
// object: ignore-check.statex.io/<rule-id>: "<reason>". The reason is
// mandatory so every exception explains itself in review.
const SuppressionPrefix = "ignore-check.statex.io/"

// Rule IDs. Kept as constants so a typo is a compile error.
const (
	RuleYAMLSyntax           = "yaml-syntax"
	RuleUnknownField         = "unknown-field"
	RuleDuplicateField       = "duplicate-field"
	RuleInvalidType          = "invalid-type"
	RuleRequiredField        = "required-field"
	RuleAPIVersionRemoved    = "api-version-removed"
	RuleAPIVersionDeprecated = "api-version-deprecated"
	RulePodSecurity          = "pod-security"
	RulePodSecurityWarn      = "pod-security-warn"
	RuleUnknownKind          = "unknown-kind"
	RuleInvalidName          = "invalid-name"
	RuleInvalidLabel         = "invalid-label"
	RuleSelectorMismatch     = "selector-mismatch"
	RuleMountWithoutVolume   = "volume-mount-without-volume"
	RuleRequestsOverLimits   = "requests-exceed-limits"
	RuleCronSchedule         = "cron-schedule"
	RuleDuplicateContainer   = "duplicate-container"
	RuleDuplicatePort        = "duplicate-port"

	RuleReadinessProbe     = "readiness-probe"
	RuleLivenessProbe      = "liveness-probe"
	RuleResourceRequests   = "resource-requests"
	RuleResourceLimits     = "resource-limits"
	RuleRunAsNonRoot       = "run-as-non-root"
	RuleNoPrivEscalation   = "allow-privilege-escalation"
	RuleDropCapabilities   = "drop-capabilities"
	RuleSeccomp            = "seccomp-profile"
	RulePrivileged         = "privileged"
	RuleHostPath           = "host-path"
	RuleHostNamespaces     = "host-namespaces"
	RuleReadOnlyRootFS     = "read-only-root-filesystem"
	RuleImageTag           = "image-tag"
	RuleImageDigest        = "image-digest"
	RulePDBRequired        = "pdb-required"
	RulePDBAllowsEviction  = "pdb-allows-eviction"
	RuleAntiAffinity       = "anti-affinity"
	RuleNetworkPolicy      = "network-policy-coverage"
	RuleCommittedSecret    = "committed-secret"
	RuleLiteralCredential  = "literal-credential"
	RuleSuppressionInvalid = "suppression-invalid"

	RuleServiceSelector   = "service-selector"
	RuleServiceTargetPort = "service-target-port"
	RuleMissingConfigMap  = "missing-configmap"
	RuleMissingSecret     = "missing-secret"
	RuleMissingSA         = "missing-service-account"
	RuleMissingPVC        = "missing-pvc"
	RuleHeadlessService   = "statefulset-headless-service"
	RulePDBSelector       = "pdb-selector"
	RuleHPATarget         = "hpa-target"
	RuleNetPolSelector    = "network-policy-selector"
	RuleRoleBindingRef    = "role-binding-ref"
	RuleDuplicateObject   = "duplicate-object"
	RuleBackupTarget      = "backup-target"
)

// Rules is the catalog: `statex validate --list-rules` prints it, SARIF
// embeds it, and every finding's rationale and hint come from here.
var Rules = []Rule{
	{RuleYAMLSyntax, LayerSchema, SeverityError, "YAML must parse and every document must be a Kubernetes object",
		"kubectl and the API server reject the whole file when one document is malformed.",
		"Fix the YAML at the reported line (indentation, a missing ':' or quote)."},
	{RuleUnknownField, LayerSchema, SeverityError, "No fields unknown to the Kubernetes type",
		"The API server's strict field validation rejects unknown fields; in non-strict mode they are silently dropped, so a typo disables a setting without a word.",
		"Check the spelling and nesting against `kubectl explain <kind>.<path>` for the target version."},
	{RuleDuplicateField, LayerSchema, SeverityError, "No field given twice",
		"A duplicated key silently keeps only one of the values.",
		"Remove one of the duplicated keys."},
	{RuleInvalidType, LayerSchema, SeverityError, "Field values have the type the API expects",
		"The API server rejects the object; unquoted yes/no/on/off are booleans in kubectl's YAML.",
		"Use the expected type; quote strings that look like numbers or booleans."},
	{RuleRequiredField, LayerSchema, SeverityError, "Required fields are set",
		"The API server rejects objects without them.",
		"Add the missing field."},
	{RuleAPIVersionRemoved, LayerSchema, SeverityError, "apiVersion is served by the target Kubernetes version",
		"Removed API versions make the apply fail on the target cluster.",
		"Move to the replacement apiVersion named in the message."},
	{RuleUnknownKind, LayerSchema, SeverityWarning, "Kind is a known built-in type or defined by a CRD in the set",
		"Objects of unknown kinds cannot be checked offline and fail to apply if their CRD is missing.",
		"Add the CRD to the set, or check the apiVersion/kind spelling."},
	{RuleInvalidName, LayerSchema, SeverityError, "Names are valid DNS names for their kind",
		"The API server rejects invalid names.",
		"Use lowercase letters, digits and '-', starting and ending with an alphanumeric."},
	{RuleInvalidLabel, LayerSchema, SeverityError, "Label and annotation keys and label values are valid",
		"The API server rejects invalid keys and values.",
		"Keys: optional DNS prefix + '/' + name of at most 63 characters; values: at most 63 characters of [A-Za-z0-9._-]."},
	{RuleSelectorMismatch, LayerSchema, SeverityError, "A workload's selector matches its pod template labels",
		"The API server rejects a workload whose template labels do not satisfy its selector.",
		"Make spec.selector.matchLabels a subset of spec.template.metadata.labels."},
	{RuleMountWithoutVolume, LayerSchema, SeverityError, "Every volumeMount names a volume of the pod",
		"The API server rejects pods that mount an undefined volume.",
		"Add the volume to spec.volumes (or volumeClaimTemplates) or fix the mount's name."},
	{RuleRequestsOverLimits, LayerSchema, SeverityError, "Resource requests do not exceed limits",
		"The API server rejects a container whose request is larger than its limit.",
		"Lower the request or raise the limit."},
	{RuleCronSchedule, LayerSchema, SeverityError, "CronJob schedules are valid cron expressions",
		"The API server rejects invalid schedules; TZ in the schedule is not supported.",
		"Use five fields (minute hour day-of-month month day-of-week) or a @descriptor; put the zone in spec.timeZone."},
	{RuleDuplicateContainer, LayerSchema, SeverityError, "Container names are unique within a pod",
		"The API server rejects duplicate container names (init containers included).",
		"Rename one of the containers."},
	{RuleDuplicatePort, LayerSchema, SeverityError, "Ports are not declared twice",
		"The API server rejects duplicate port names and Service ports; duplicate container ports conflict.",
		"Remove or rename the duplicated port."},
	{RuleAPIVersionDeprecated, LayerSchema, SeverityWarning, "apiVersion is not deprecated in the target Kubernetes version",
		"The API server warns on every apply, and a later release stops serving the version: the upgrade then breaks the deploy.",
		"Move to the replacement apiVersion named in the message (from k8s.io/api's lifecycle of the type)."},
	{RulePodSecurity, LayerSchema, SeverityError, "Pods satisfy the Pod Security level their namespace enforces",
		"Pod Security Admission rejects the pod (for workloads: every pod the controller creates), so the service never starts; judged by k8s.io/pod-security-admission at the rendered Namespace's pod-security.kubernetes.io/enforce level and version.",
		"Fix the fields the message names, or (deliberately) lower the namespace's pod-security.kubernetes.io/enforce label."},
	{RulePodSecurityWarn, LayerSchema, SeverityWarning, "Pods satisfy the Pod Security level their namespace warns at",
		"The API server answers every apply with a warning; the namespace's pod-security.kubernetes.io/warn level is where it is meant to go next.",
		"Fix the fields the message names, or suppress with a reason where the exception is known (e.g. a root master process)."},

	{RuleReadinessProbe, LayerPolicy, SeverityError, "Long-running containers have a readiness probe",
		"Without one, traffic and rollouts proceed to pods that cannot serve, and deploys cannot wait for real readiness.",
		"Add readinessProbe that checks the service answers (an HTTP health endpoint, a protocol-level exec or a TCP check)."},
	{RuleLivenessProbe, LayerPolicy, SeverityError, "Long-running containers have a liveness probe",
		"A hung process is never restarted without one: self-healing depends on it.",
		"Add livenessProbe; keep it cheaper and more tolerant than readiness."},
	{RuleResourceRequests, LayerPolicy, SeverityError, "Containers request CPU and memory",
		"Without requests the scheduler overcommits nodes and the pod is first to be evicted.",
		"Set resources.requests.cpu and resources.requests.memory."},
	{RuleResourceLimits, LayerPolicy, SeverityError, "Containers have CPU and memory limits",
		"An unbounded container can starve every stateful neighbour on the node.",
		"Set resources.limits.cpu and resources.limits.memory."},
	{RuleRunAsNonRoot, LayerPolicy, SeverityError, "Containers run as non-root",
		"A container escape from root is a node compromise; the restricted Pod Security Standard requires it.",
		"Set securityContext.runAsNonRoot: true and a numeric runAsUser in the pod or container."},
	{RuleNoPrivEscalation, LayerPolicy, SeverityError, "allowPrivilegeEscalation is false",
		"setuid binaries could otherwise regain privileges; required by the restricted Pod Security Standard.",
		"Set securityContext.allowPrivilegeEscalation: false on every container."},
	{RuleDropCapabilities, LayerPolicy, SeverityError, "Containers drop ALL capabilities",
		"Default capabilities (NET_RAW, …) are attack surface no service here needs; only NET_BIND_SERVICE may be added back.",
		"Set securityContext.capabilities.drop: [ALL]."},
	{RuleSeccomp, LayerPolicy, SeverityError, "A RuntimeDefault (or Localhost) seccomp profile applies",
		"Unconfined syscalls widen the kernel attack surface; required by the restricted Pod Security Standard.",
		"Set securityContext.seccompProfile.type: RuntimeDefault in the pod spec."},
	{RulePrivileged, LayerPolicy, SeverityError, "No privileged containers",
		"A privileged container is root on the node.",
		"Remove securityContext.privileged."},
	{RuleHostPath, LayerPolicy, SeverityError, "No hostPath volumes",
		"hostPath ties data to a node and exposes the node's filesystem.",
		"Use a PersistentVolumeClaim, emptyDir or a projected volume."},
	{RuleHostNamespaces, LayerPolicy, SeverityError, "No hostNetwork, hostPID, hostIPC or hostPort",
		"Sharing the node's namespaces bypasses NetworkPolicy and isolation.",
		"Remove hostNetwork/hostPID/hostIPC/hostPort and expose the port through a Service."},
	{RuleReadOnlyRootFS, LayerPolicy, SeverityWarning, "Root filesystems are read-only",
		"A writable image layer lets an attacker persist tools and hides state outside volumes.",
		"Set securityContext.readOnlyRootFilesystem: true and mount emptyDir where the service writes."},
	{RuleImageTag, LayerPolicy, SeverityError, "Images are pinned to a tag other than latest",
		"Untagged and :latest images change under a running deployment and make rollbacks meaningless.",
		"Use an explicit version tag (and preferably a digest)."},
	{RuleImageDigest, LayerPolicy, SeverityWarning, "Images are pinned by digest",
		"Tags can be moved; a digest is the exact image that was tested.",
		"Append @sha256:<digest> to the image reference (or let the release step pin it)."},
	{RulePDBRequired, LayerPolicy, SeverityError, "Multi-replica workloads have a PodDisruptionBudget",
		"Without one, a node drain can take every replica of a clustered service down at once.",
		"Add a PodDisruptionBudget selecting the pods with maxUnavailable: 1."},
	{RulePDBAllowsEviction, LayerPolicy, SeverityError, "PodDisruptionBudgets allow at least one eviction",
		"A budget that allows no eviction blocks node drains and cluster upgrades forever.",
		"Use maxUnavailable: 1 (or minAvailable below the replica count)."},
	{RuleAntiAffinity, LayerPolicy, SeverityError, "Replicated workloads spread across nodes",
		"Replicas on one node die together: clustering buys nothing.",
		"Add podAntiAffinity on kubernetes.io/hostname (or a topologySpreadConstraint) selecting the workload's own pods."},
	{RuleNetworkPolicy, LayerPolicy, SeverityError, "Every pod is selected by a NetworkPolicy",
		"Unselected pods accept traffic from anywhere in the cluster: segmentation must be explicit.",
		"Add a NetworkPolicy whose podSelector matches the pod's labels and allows exactly its flows."},
	{RuleCommittedSecret, LayerPolicy, SeverityError, "No credentials in committed Secrets",
		"Secrets in git leak through every clone, fork and CI log.",
		"Remove the values and declare the Secret under generatedSecrets in manifests/environments.yaml (generated at deploy time)."},
	{RuleLiteralCredential, LayerPolicy, SeverityError, "No literal credentials in environment variables",
		"A password in a pod spec is committed in plain text.",
		"Use env[].valueFrom.secretKeyRef pointing at a generated Secret."},
	{RuleSuppressionInvalid, LayerPolicy, SeverityError, "Suppressions name a known rule and give a reason",
		"An unexplained exception cannot be reviewed; a misspelt one suppresses nothing.",
		"Use ignore-check.statex.io/<rule-id>: \"<why this object is an exception>\"."},

	{RuleServiceSelector, LayerXRef, SeverityError, "Service selectors match a pod template in the set",
		"A Service that selects nothing has no endpoints: clients hang or get refused.",
		"Make spec.selector a subset of the target pod template's labels."},
	{RuleServiceTargetPort, LayerXRef, SeverityError, "Service targetPorts exist on the selected containers",
		"A named targetPort that no container declares sends traffic nowhere.",
		"Declare the port (with that name) on the container, or fix targetPort."},
	{RuleMissingConfigMap, LayerXRef, SeverityError, "Referenced ConfigMaps (and keys) exist in the set",
		"Pods referencing a missing ConfigMap stay in ContainerCreating.",
		"Add the ConfigMap, fix the name/key, or mark the reference optional."},
	{RuleMissingSecret, LayerXRef, SeverityError, "Referenced Secrets (and keys) exist or are generated at deploy time",
		"Pods referencing a missing Secret never start.",
		"Declare the Secret under generatedSecrets in manifests/environments.yaml, or fix the name/key."},
	{RuleMissingSA, LayerXRef, SeverityError, "Referenced ServiceAccounts exist in the set",
		"The workload's pods are rejected at admission.",
		"Add the ServiceAccount or fix serviceAccountName."},
	{RuleMissingPVC, LayerXRef, SeverityError, "Referenced PersistentVolumeClaims exist in the set",
		"Pods referencing a missing claim stay Pending.",
		"Add the PersistentVolumeClaim, or use volumeClaimTemplates in a StatefulSet."},
	{RuleHeadlessService, LayerXRef, SeverityError, "A StatefulSet's serviceName is a headless Service in the set",
		"Stable per-pod DNS names (which clustering needs) come only from a headless governing Service.",
		"Add a Service with clusterIP: None selecting the pods, named as spec.serviceName."},
	{RulePDBSelector, LayerXRef, SeverityError, "PodDisruptionBudget selectors match a workload",
		"A budget that selects nothing protects nothing.",
		"Make the selector match the workload's pod template labels."},
	{RuleHPATarget, LayerXRef, SeverityError, "HorizontalPodAutoscaler targets exist in the set",
		"An autoscaler pointing at nothing never scales.",
		"Fix scaleTargetRef kind/name."},
	{RuleNetPolSelector, LayerXRef, SeverityWarning, "NetworkPolicy selectors and peers match pods in the set",
		"A policy or peer that selects nothing is usually a typo that leaves a flow blocked or open.",
		"Fix the podSelector labels; peers in other namespaces need a namespaceSelector."},
	{RuleRoleBindingRef, LayerXRef, SeverityError, "RoleBindings refer to Roles and ServiceAccounts that exist",
		"A binding to a missing role or subject grants nothing: the workload fails its API calls.",
		"Fix roleRef/subjects, or add the Role/ServiceAccount."},
	{RuleDuplicateObject, LayerXRef, SeverityError, "No object is defined twice",
		"The later definition silently overwrites the earlier one on apply.",
		"Remove or rename one of the definitions."},
	{RuleBackupTarget, LayerXRef, SeverityError, "The backup jobs are told the backup target environments.yaml declares",
		"Backup jobs read the site's endpoint and bucket from ConfigMap backup-target; a value that differs from the environment's backup: sends backups where nobody restores from, or nowhere.",
		"Set the value in the overlay's backup-target patch to what manifests/environments.yaml says for this environment."},
}

var rulesByID = func() map[string]*Rule {
	m := make(map[string]*Rule, len(Rules))
	for i := range Rules {
		m[Rules[i].ID] = &Rules[i]
	}
	return m
}()

// RuleByID returns the rule with that ID, or nil.
func RuleByID(id string) *Rule { return rulesByID[id] }

// RuleIDs returns every rule ID, sorted.
func RuleIDs() []string {
	ids := make([]string, 0, len(Rules))
	for _, r := range Rules {
		ids = append(ids, r.ID)
	}
	sort.Strings(ids)
	return ids
}
