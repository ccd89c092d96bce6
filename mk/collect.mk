# Provider-side collectors: what CloudWatch and Kubernetes measured, as JSON in results/.
# Usage: make collect-cloudwatch FUNCTION=twinserve-dev-predict REGION=eu-west-1 SINCE_MINUTES=30 [API_ID=...]
#        make collect-kubectl NAMESPACE=twinserve SELECTOR=app=predict [CONTEXT=kind-twinserve] [SINCE=1h]

RESULTS_DIR ?= results
FUNCTION ?= twinserve-dev-predict
REGION ?= $(or $(AWS_REGION),eu-west-1)
SINCE_MINUTES ?= 60
API_ID ?=
NAMESPACE ?= twinserve-dev
SELECTOR ?= app.kubernetes.io/name=twinserve-predict
CONTEXT ?=
SINCE ?= 1h

.PHONY: collect-cloudwatch collect-kubectl

collect-cloudwatch: $(VENV)/.stamp ## CloudWatch metrics + REPORT lines of the deployed Lambda -> results/cloudwatch.json (FUNCTION= REGION= SINCE_MINUTES= API_ID=)
	$(PY) scripts/collect_cloudwatch.py --function-name "$(FUNCTION)" --region "$(REGION)" \
	  --since-minutes "$(SINCE_MINUTES)" $(if $(API_ID),--api-id "$(API_ID)") \
	  --output "$(RESULTS_DIR)/cloudwatch.json"

collect-kubectl: $(VENV)/.stamp $(TOOLS_VENV)/.stamp ## Pod startup phases, top, HPA + events via pinned kubectl -> results/kubectl.json (NAMESPACE= SELECTOR= CONTEXT=)
	$(PY) scripts/collect_kubectl.py --kubectl "$(TOOLS_BIN)/kubectl" --namespace "$(NAMESPACE)" \
	  --selector "$(SELECTOR)" $(if $(CONTEXT),--context "$(CONTEXT)") --since "$(SINCE)" \
	  --output "$(RESULTS_DIR)/kubectl.json"
