# Build, deploy and roll back. The root Makefile includes this file.
#
#   make images                     build every image with IMAGE_TAG
#   make deploy                     apply the production overlay
#   make rollout-status             wait for every Deployment to finish rolling out
#   make rollback SERVICE=inference roll one Deployment back one revision
#   make deploy-check               offline checks: hadolint, compose, kustomize, schemas
#                                   (DEPLOY_CHECK_ARGS='-m "not image_venv"' skips the
#                                   uv installs of the image venvs)

PYTHON ?= .venv/bin/python
VENV_BIN ?= $(dir $(PYTHON))
KUBECTL ?= $(if $(wildcard $(VENV_BIN)kubectl),$(VENV_BIN)kubectl,kubectl)
DOCKER ?= docker
K8S_NAMESPACE ?= production
K8S_OVERLAY ?= k8s/overlays/production
IMAGE_TAG ?= 0.1.0
SERVICE ?=
ROLLOUT_TIMEOUT ?= 15m
DEPLOY_CHECK_ARGS ?=

# image name = Dockerfile [build target]
DEPLOY_IMAGES := \
	narrative-gateway=services/gateway/Dockerfile \
	narrative-traefik=services/gateway/Dockerfile:traefik \
	narrative-datasets=services/datasets/Dockerfile \
	narrative-training=services/training/Dockerfile \
	narrative-training-worker=services/training/Dockerfile.worker \
	narrative-inference=services/inference/Dockerfile \
	narrative-ai-analysis=services/ai-analysis/Dockerfile

DEPLOYMENTS := narrative-traefik narrative-gateway narrative-datasets \
	narrative-training narrative-training-worker narrative-inference \
	narrative-ai-analysis

.PHONY: images deploy rollout-status rollback deploy-check

images:
	@set -e; for entry in $(DEPLOY_IMAGES); do \
		name=$${entry%%=*}; spec=$${entry#*=}; \
		file=$${spec%%:*}; target=$${spec#"$$file"}; target=$${target#:}; \
		echo "building $$name:$(IMAGE_TAG) from $$file$${target:+ (target $$target)}"; \
		$(DOCKER) build -f $$file $${target:+--target $$target} -t $$name:$(IMAGE_TAG) .; \
	done

deploy:
	$(KUBECTL) apply -k $(K8S_OVERLAY)

rollout-status:
	@set -e; for deployment in $(DEPLOYMENTS); do \
		$(KUBECTL) rollout status deployment/$$deployment -n $(K8S_NAMESPACE) --timeout=$(ROLLOUT_TIMEOUT); \
	done

rollback:
	@test -n "$(SERVICE)" || { echo "SERVICE is missing: run make rollback SERVICE=inference (one of: $(patsubst narrative-%,%,$(DEPLOYMENTS)))" >&2; exit 2; }
	$(KUBECTL) rollout undo deployment/narrative-$(SERVICE) -n $(K8S_NAMESPACE)

deploy-check:
	$(PYTHON) -m pytest tests/deploy -q -p no:cacheprovider $(DEPLOY_CHECK_ARGS)
