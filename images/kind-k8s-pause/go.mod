// Tools module: the pod sandbox ("pause") program of the kind node image, our
// own: it sleeps, reaps children (it is PID 1 of a pod with a shared PID
// namespace) and exits on SIGTERM/SIGINT. No dependencies.
module github.com/statex/infrastructure/images/kind-k8s-pause

go 1.24.0

tool github.com/statex/infrastructure/images/kind-k8s-pause/pause
