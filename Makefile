# topoexp — common tasks. `make help` lists them.
PYTHON ?= python3
comma := ,
VENV   ?= .venv
PY     := $(VENV)/bin/python
SEEDS  ?= 249040430,621965744,771860110,775293950,700134501
JOBS   ?= 2
SHARED ?= ../shared
# The papers' published tables the reports compare with (copied from $(SHARED)/reference).
REFERENCE ?= results/reference
# The data root, as for `python -m topoexp`: <repository>/data unless TOPOEXP_DATA_DIR is set.
export TOPOEXP_DATA_DIR ?= $(CURDIR)/data

.PHONY: help install run test test-full lint format bench bench-device report reproduce-spheres report-spheres \
  reproduce-study reproduce-study-definitions reproduce-perplexity reproduce-mnist reproduce-fmnist reproduce-cifar10 \
  reproduce-cifar clean campaign-prepare campaign-plan campaign-rehearse campaign-unpack

help:  ## list targets
	@grep -E '^[a-z0-9-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

install: $(VENV)/.installed  ## create .venv with the pinned environment (constraints.txt)

run: install  ## the default job: SPHERES TopoAE (Table 1 setting), W&B offline without a key
	$(PY) -m topoexp

test: install  ## fast test suite (no slow tests)
	$(PY) -m pytest -m "not slow" -q

test-full: install  ## every test, slow and data-dependent ones included
	$(PY) -m pytest -q

lint: install  ## ruff lint and format check
	$(PY) -m ruff check topoexp tests benchmarks scripts hydra_plugins examples
	$(PY) -m ruff format --check topoexp tests benchmarks scripts hydra_plugins examples

format: install
	$(PY) -m ruff format topoexp tests benchmarks scripts hydra_plugins examples
	$(PY) -m ruff check --fix topoexp tests benchmarks scripts hydra_plugins examples

bench: install  ## benchmarks, each a ratio against a peer measured in the same run
	$(PY) benchmarks/bench_pairing.py --json results/bench/pairing.json
	$(PY) benchmarks/bench_evaluation.py --mnist-root $(TOPOEXP_DATA_DIR) --embedding pca --json results/bench/evaluation.json
	$(PY) benchmarks/bench_diagrams.py --json results/bench/diagrams.json
	$(PY) benchmarks/bench_training_step.py --json results/bench/training_step.json
	$(PY) benchmarks/bench_tsne.py --n 20000 --mnist-root $(TOPOEXP_DATA_DIR) --json results/bench/tsne.json
	$(PY) benchmarks/bench_cli.py --json results/bench/cli.json
	$(PY) benchmarks/bench_topology_layer.py --json results/bench/topology_layer.json
	$(PY) benchmarks/bench_corel.py --json results/bench/corel.json
	$(PY) benchmarks/bench_homreg.py --root $(TOPOEXP_DATA_DIR) --json results/bench/homreg.json
	$(PY) benchmarks/bench_topmodel_features.py --mnist-root $(TOPOEXP_DATA_DIR) --json results/bench/topmodel_features.json
	$(PY) benchmarks/bench_generator_prior.py --json results/bench/generator_prior.json
	$(PY) benchmarks/bench_ensemble.py --json results/bench/ensemble.json
	$(PY) benchmarks/bench_data_path.py --root $(TOPOEXP_DATA_DIR) --json results/bench/data_path.json
	$(PY) benchmarks/protocol_flops.py --json results/bench/protocol_flops.json

bench-device: install  ## on a GPU machine: each protocol's ensemble epoch, the CUDA pairing and COREL step
	$(PY) benchmarks/bench_device_protocols.py --json results/bench/device_protocols.json
	$(PY) benchmarks/bench_pairing.py --json results/bench/pairing_cuda.json
	$(PY) benchmarks/bench_corel.py --json results/bench/corel_cuda.json

report: install  ## results/index.html and results/README.md: every paper's tables, claims, figures (conf/report/*.yaml)
	$(PY) -m topoexp.report

RUN_FLAGS := logger.mode=offline trainer.progress=false

# Committed results are never overwritten unless FORCE=1: a reproduce target stops when its
# result folder holds files in git. A budget run (seeds or flags other than the protocol's) needs
# no FORCE: it writes beside them, into results/<data>/budget-<tag>/ and multirun/<data>-budget-<tag>.
FORCE ?=
# guard_results,<folder>: fail when <folder> holds committed files, unless FORCE=1
guard_results = @if [ -z "$(FORCE)" ] && [ -n "$$(git ls-files -- '$(1)' 2>/dev/null | head -n 1)" ]; then \
  echo "$(1) holds committed results; FORCE=1 overwrites them (a budget run writes beside them)"; \
  exit 1; fi
# budget_tag,<seeds>,<protocol seeds>,<flags>: empty for the protocol, else budget-<8 hex digits>
budget_tag = $(if $(strip $(3))$(filter-out $(2),$(1)),budget-$(shell printf '%s|%s' '$(1)' '$(3)' | md5sum | cut -c1-8))
SPHERES_METHODS := pca isomap tsne umap ae topoae topopca

reproduce-spheres: install  ## SPHERES rows of TopoAE Table 1: 7 methods × 5 seeds, table + figure in results/spheres
	$(call guard_results,results/spheres)
	rm -rf multirun/spheres
	$(PY) -m topoexp -m \
	  "+experiment=$(shell echo $(addprefix spheres/,$(SPHERES_METHODS)) | tr ' ' ',')" \
	  seed=$(SEEDS) logger.mode=offline trainer.progress=false \
	  hydra/launcher=joblib hydra.launcher.n_jobs=$(JOBS) \
	  hydra.sweep.dir=multirun/spheres
	$(MAKE) report-spheres

report-spheres: install  ## multirun/spheres as run records in results/spheres/runs, then the report
	$(PY) -m topoexp.report.table1 --dataset spheres --runs multirun/spheres --out results/spheres
	$(MAKE) report

IMAGE_METHODS ?= pca tsne umap ae topoae topopca
IMAGE_SEEDS ?= $(SEEDS)
# extra overrides for the image runs, e.g. a CPU budget: IMAGE_FLAGS=trainer.max_epochs=25
IMAGE_FLAGS ?=

IMAGE_TAG = $(call budget_tag,$(IMAGE_SEEDS),$(SEEDS),$(IMAGE_FLAGS))

# reproduce-<data>: check the files first (a clear message naming the folder), then
# 6 methods × 5 seeds as one multirun, then the table and figure in results/<data> (a budget
# run: multirun/<data>-budget-<tag> and results/<data>/budget-<tag>).
define image_target
reproduce-$(1): install
	$$(PY) -m topoexp.data $(1) --root $$(TOPOEXP_DATA_DIR)
	$$(if $$(IMAGE_TAG),,$$(call guard_results,results/$(1)))
	rm -rf multirun/$(1)$$(if $$(IMAGE_TAG),-$$(IMAGE_TAG))
	$$(PY) -m topoexp -m \
	  "+experiment=$$(shell echo $$(addprefix $(1)/,$$(IMAGE_METHODS)) | tr ' ' ',')" \
	  seed=$$(IMAGE_SEEDS) $$(RUN_FLAGS) $$(IMAGE_FLAGS) hydra/launcher=joblib \
	  hydra.launcher.n_jobs=$$(JOBS) hydra.sweep.dir=multirun/$(1)$$(if $$(IMAGE_TAG),-$$(IMAGE_TAG))
	$$(PY) -m topoexp.report.table1 --dataset $(1) --runs multirun/$(1)$$(if $$(IMAGE_TAG),-$$(IMAGE_TAG)) \
	  --out results/$(1)$$(if $$(IMAGE_TAG),/$$(IMAGE_TAG))
	$$(if $$(IMAGE_TAG),,$$(MAKE) report)
endef
$(eval $(call image_target,mnist,MNIST))
$(eval $(call image_target,fmnist,Fashion-MNIST))
$(eval $(call image_target,cifar10,CIFAR-10))

reproduce-mnist:    ## MNIST rows of TopoAE Table 1 into results/mnist (data under TOPOEXP_DATA_DIR)
reproduce-fmnist:   ## Fashion-MNIST rows of TopoAE Table 1 into results/fmnist
reproduce-cifar10:  ## CIFAR-10 rows of TopoAE Table 1 into results/cifar10 (not available offline here)
reproduce-cifar: reproduce-cifar10  ## alias of reproduce-cifar10

STUDY_SEEDS ?= 249040430,621965744,771860110,775293950,700134501
STUDY_DATA ?= spheres
# extra overrides for every run of the study, e.g. its own SPHERES definitions:
# STUDY_FLAGS="dataset.standardise=false dataset.big_factor=20" (a budget run: its own folders)
STUDY_FLAGS ?=
STUDY_TAG = $(call budget_tag,$(STUDY_SEEDS),$(STUDY_SEEDS),$(STUDY_FLAGS))
STUDY_RUNS = multirun/study$(if $(STUDY_TAG),-$(STUDY_TAG))
STUDY_OUT ?= results/reproduction_study$(if $(filter-out spheres,$(STUDY_DATA)),/$(STUDY_DATA))$(if $(STUDY_TAG),/$(STUDY_TAG))

reproduce-study: install  ## reproduction study (STUDY_DATA=spheres|mnist): TPE searches, 5 seeds at the best values, diagram distances; spheres adds the perplexity study
	$(if $(STUDY_TAG),,$(call guard_results,$(STUDY_OUT)))
	for m in topoae tsne umap; do \
	  $(PY) -m topoexp -m +experiment=study/$(STUDY_DATA)_$$m +sweep=study/$(STUDY_DATA)_$$m $(RUN_FLAGS) $(STUDY_FLAGS) \
	    hydra.sweep.dir=$(STUDY_RUNS)/sweep_$(STUDY_DATA)_$$m || exit 1; \
	done
	$(PY) -m topoexp -m +experiment=study/$(STUDY_DATA)_ae seed=$(STUDY_SEEDS) $(RUN_FLAGS) $(STUDY_FLAGS) \
	  hydra/launcher=joblib hydra.launcher.n_jobs=$(JOBS) hydra.sweep.dir=$(STUDY_RUNS)/$(STUDY_DATA)/ae
	for m in topoae tsne umap; do \
	  $(PY) -m topoexp -m +experiment=study/$(STUDY_DATA)_$$m \
	    $$($(PY) -m topoexp.report.sweeps $(STUDY_RUNS)/sweep_$(STUDY_DATA)_$$m) \
	    seed=$(STUDY_SEEDS) $(RUN_FLAGS) $(STUDY_FLAGS) hydra/launcher=joblib hydra.launcher.n_jobs=$(JOBS) \
	    hydra.sweep.dir=$(STUDY_RUNS)/$(STUDY_DATA)/$$m || exit 1; \
	done
	$(PY) -m topoexp.report.table1 --dataset $(STUDY_DATA) --runs $(STUDY_RUNS)/$(STUDY_DATA) --out $(STUDY_OUT)
	if [ "$(STUDY_DATA)" = spheres ]; then $(MAKE) reproduce-perplexity; fi
	$(if $(STUDY_TAG),,$(MAKE) report)

DEFINITION_SEEDS ?= 249040430,621965744
# The study's data definitions (results/reproduction_study/definitions): each variant runs the four
# methods at the values the committed searches chose (no new searches).
reproduce-study-definitions: install  ## the study's SPHERES rows un-standardised, at 2:1, and both (DEFINITION_SEEDS)
	$(call guard_results,results/reproduction_study/definitions/unscaled/runs)
	for v in "unscaled dataset.standardise=false" "ratio dataset.big_factor=20" \
	         "both dataset.standardise=false dataset.big_factor=20"; do \
	  set -- $$v; name=$$1; shift; \
	  for m in "topoae loss.signature.weight=2.995" "tsne model.perplexity=21.85" "umap model.n_neighbors=60" "ae"; do \
	    set -- $$m; method=$$1; shift; \
	    $(PY) -m topoexp -m +experiment=study/spheres_$$method $$@ $$(echo $$v | cut -d' ' -f2-) seed=$(DEFINITION_SEEDS) \
	      $(RUN_FLAGS) hydra.sweep.dir=multirun/study-definitions/$$name/$$method || exit 1; \
	  done; \
	  $(PY) -m topoexp.report.table1 --dataset spheres --runs multirun/study-definitions/$$name \
	    --out results/reproduction_study/definitions/$$name || exit 1; \
	done
	$(MAKE) report

PERPLEXITIES ?= 5,30,50,100,250,500,750

reproduce-perplexity: install  ## t-SNE perplexity study on SPHERES (study's Figure 8) into results/reproduction_study
	$(if $(STUDY_TAG),,$(call guard_results,results/reproduction_study/runs/perplexity))
	$(PY) -m topoexp -m +experiment=study/spheres_tsne model.perplexity=$(PERPLEXITIES) $(RUN_FLAGS) $(STUDY_FLAGS) \
	  hydra/launcher=joblib hydra.launcher.n_jobs=$(JOBS) hydra.sweep.dir=$(STUDY_RUNS)/perplexity
	$(PY) -m topoexp.report.perplexity --runs $(STUDY_RUNS)/perplexity --out $(STUDY_OUT)
	$(if $(STUDY_TAG),,$(MAKE) report)

clean:
	rm -rf outputs multirun .pytest_cache .ruff_cache

# ------------------------------------------------------------------------------------- COREL
# COREL (Hofer et al., ICML 2019): backbones trained once (run directories under COREL_RUNS),
# then evaluated one-class on any data set with task.backbone=<run directory>. A run whose
# metrics.json exists is not repeated. COREL_EPOCHS sets a CPU budget (the paper: 50).
COREL_EPOCHS ?= 50
COREL_FLAGS ?= $(RUN_FLAGS)
COREL_RUNS ?= multirun/corel
COREL_GRID_DATA := cifar10 cifar20 cifar100 tinyimagenet imagenet
COREL_GRID_BACKBONES := cifar10 cifar100 tinyimagenet
COREL_ABLATION := lam0 lam1 lam10 lam20 lam40 b32x20 b32x10 b32x5 b16x20 b16x10 b16x5 \
  b8x20 b8x10 b8x5 b1x160

# corel_run,<experiment>,<run name>[,<overrides>]: one run into $(COREL_RUNS)/<run name>
corel_run = test -f $(COREL_RUNS)/$(2)/metrics.json || $(PY) -m topoexp +experiment=corel/$(1) \
  trainer.max_epochs=$(COREL_EPOCHS) $(COREL_FLAGS) hydra.run.dir=$(COREL_RUNS)/$(2) $(3)

.PHONY: reproduce-corel reproduce-corel-offline report-corel

reproduce-corel: install  ## COREL's grid (CIFAR-10/100, Tiny-ImageNet backbones → 5 data sets) and ablation
	$(call guard_results,results/corel)
	missing=0; for d in $(COREL_GRID_DATA); do \
	  $(PY) -m topoexp.data $$d --root $(TOPOEXP_DATA_DIR) || missing=1; \
	done; test $$missing = 0
	for b in $(COREL_GRID_BACKBONES); do \
	  $(call corel_run,grid/$$b,grid/$$b) || exit 1; \
	  for d in $(COREL_GRID_DATA); do \
	    $(call corel_run,grid/$$b,grid/$${b}_to_$$d,task/eval_dataset=$$d task.backbone=$(COREL_RUNS)/grid/$$b) || exit 1; \
	  done; \
	done
	for a in $(COREL_ABLATION); do \
	  $(call corel_run,ablation/$$a,ablation/$$a) || exit 1; \
	done

reproduce-corel-offline: install  ## COREL on MNIST / Fashion-MNIST (same-data, transfer, ablation, baselines, toy) into results/corel
	$(call guard_results,results/corel)
	$(PY) -m topoexp.data mnist --root $(TOPOEXP_DATA_DIR)
	$(PY) -m topoexp.data fmnist --root $(TOPOEXP_DATA_DIR)
	$(call corel_run,offline/mnist,mnist)
	$(call corel_run,offline/mnist_to_fmnist,mnist_to_fmnist,task.backbone=$(COREL_RUNS)/mnist)
	$(call corel_run,offline/fmnist,fmnist)
	$(call corel_run,offline/fmnist_to_mnist,fmnist_to_mnist,task.backbone=$(COREL_RUNS)/fmnist)
	$(call corel_run,offline/fmnist_lam0,fmnist_lam0)
	$(call corel_run,offline/fmnist_to_mnist,fmnist_lam0_to_mnist,loss.connectivity.weight=0.0 task.backbone=$(COREL_RUNS)/fmnist_lam0)
	$(call corel_run,offline/fmnist_1x160,fmnist_1x160)
	$(call corel_run,offline/fmnist_to_mnist,fmnist_1x160_to_mnist,model.n_branches=1 model.branch_dim=160 task.backbone=$(COREL_RUNS)/fmnist_1x160)
	for s in ocsvm kde; do \
	  $(call corel_run,offline/$${s}_cae_fmnist,$${s}_cae_fmnist,task.backbone=$(COREL_RUNS)/fmnist_lam0) || exit 1; \
	  for d in mnist fmnist; do $(call corel_run,offline/$${s}_pixels_$$d,$${s}_pixels_$$d) || exit 1; done; \
	done
	$(call corel_run,offline/mnist_lam0,mnist_lam0)
	$(PY) -m topoexp +experiment=corel_toy logger=none hydra.run.dir=$(COREL_RUNS)/toy
	$(MAKE) report-corel

report-corel: install  ## rebuild results/corel from the runs in COREL_RUNS
	$(PY) -m topoexp.report.corel --runs $(COREL_RUNS) --out results/corel --epochs $(COREL_EPOCHS) \
	  --anchors $(REFERENCE)/one_class_anchors.csv --paper $(REFERENCE)/corel_table1.csv
# --------------------------------------------------------------------------------- end COREL

# ---- TopologyLayer paper: reproduce-toplayer -------------------------------------
TOPLAYER_RUNS := points_increase_h0 points_decrease_h0 points_increase_h1 points_decrease_h1 \
  points_increase_h1_decrease_h0 chair_decrease_h0 chair_increase_h0 mnist_single_component \
  image_regression_fig7 noisy_circle
TOPLAYER_OUT ?= results/topology_layer
# the regression sweeps (task=regression_sweep), and extra overrides of each, e.g. a reduced
# grid: TOPLAYER_SWEEP="dataset.trials=20"
TOPLAYER_REGRESSION := alpha levelset levelset_sigma0.05
TOPLAYER_SWEEP ?=

.PHONY: reproduce-toplayer reproduce-toplayer-signature
reproduce-toplayer: install  ## TopologyLayer paper: point clouds, images, regression (Figures 1-3, 5-7) into results/topology_layer
	$(call guard_results,$(TOPLAYER_OUT))
	rm -rf multirun/toplayer
	$(PY) -m topoexp -m \
	  "+experiment=$(shell echo $(addprefix toplayer/,$(TOPLAYER_RUNS)) | tr ' ' ',')" \
	  logger=none hydra.sweep.dir=multirun/toplayer
	rm -rf multirun/toplayer_regression
	for r in $(TOPLAYER_REGRESSION); do \
	  $(PY) -m topoexp +experiment=toplayer/regression_sweep/$$r logger=none $(TOPLAYER_SWEEP) \
	    hydra.run.dir=multirun/toplayer_regression/$$r || exit 1; \
	done
	mkdir -p $(TOPLAYER_OUT)/regression
	cp multirun/toplayer_regression/*/*_trials.csv multirun/toplayer_regression/*/*_summary.csv \
	  multirun/toplayer_regression/*/*_protocol.json $(TOPLAYER_OUT)/regression/
	$(PY) -m topoexp.report.toplayer --runs multirun/toplayer --regression $(TOPLAYER_OUT)/regression \
	  $(if $(wildcard multirun/toplayer_signature),--signature multirun/toplayer_signature) \
	  --out $(TOPLAYER_OUT)

reproduce-toplayer-signature: install  ## TopoAE's signature over dimensions 0 and 1 on SPHERES, 5 seeds (then reproduce-toplayer reports it)
	$(PY) -m topoexp -m +experiment=spheres/topoae "loss.signature.dims=[0,1]" method=topoae_h01 \
	  seed=$(SEEDS) $(RUN_FLAGS) hydra/launcher=joblib hydra.launcher.n_jobs=$(JOBS) \
	  hydra.sweep.dir=multirun/toplayer_signature
# Topological adversarial attacks (Figures 12, 13): TopModel, the pixel MLP and the CNN, each at
# every L-infinity bound of ATTACK_EPS (the main table uses task.eps = 0.3, conf/task/attack.yaml),
# then one-step FGSM (a single step of size 0.3) for comparison.
ATTACK_EPS ?= 0.05,0.1,0.2,0.3
# extra overrides of every attack run (sweep syntax in a multirun), e.g. "task.steps=choice(50)"
ATTACK_FLAGS ?=
ATTACKS_OUT ?= results/topology_layer/attacks
.PHONY: reproduce-toplayer-attacks report-toplayer-attacks
reproduce-toplayer-attacks: install  ## TopologyLayer paper: attacks on TopModel, MLP and CNN (Figures 12-13) into results/topology_layer/attacks
	$(call guard_results,$(ATTACKS_OUT))
	rm -rf multirun/toplayer_attacks
	$(PY) -m topoexp -m \
	  "+experiment=toplayer/attacks/topmodel,toplayer/attacks/mlp,toplayer/attacks/cnn" \
	  task.eps=$(ATTACK_EPS) $(ATTACK_FLAGS) logger=none hydra.sweep.dir=multirun/toplayer_attacks
	$(PY) -m topoexp -m \
	  "+experiment=toplayer/attacks/topmodel,toplayer/attacks/mlp,toplayer/attacks/cnn" \
	  "task.steps=choice(1)" "task.step_size=choice(0.3)" "task.eps=choice(0.3)" \
	  "task.grid=choice(false)" logger=none hydra.sweep.dir=multirun/toplayer_attacks/fgsm
	$(MAKE) report-toplayer-attacks

report-toplayer-attacks: install  ## rebuild results/topology_layer/attacks from multirun/toplayer_attacks
	$(PY) -m topoexp.report.attacks --runs multirun/toplayer_attacks --out $(ATTACKS_OUT) \
	  --reference $(REFERENCE)/topology_layer_attacks.csv
	$(PY) -m topoexp.report.records --runs multirun/toplayer_attacks --out $(ATTACKS_OUT)/runs \
	  --name '{method}_eps{task.eps}_steps{task.steps}'
	$(MAKE) report
# ---- end TopologyLayer ----------------------------------------------------------------------

# ---- TopologyLayer paper: the generator prior (section 3.2, Figures 8-10) -----------------
# The baseline GAN (32,000 iterations), then every stage from its checkpoint: the Topology-
# Generator (50 iterations of the prior), latent-code optimisation, the PD0-feature discriminator
# (100 iterations) and 60,000 more GAN iterations; each scored as Figure 10. A run whose
# metrics.json exists is not repeated. GEN_FLAGS adds overrides to every run. GEN_SEED sets the
# seed of the whole chain (unset: the project's default seed, the main results; GEN_SEED=1 into
# multirun/toplayer_generator_seed1 and results/topology_layer/generator/seed1).
GEN_SEED ?=
GEN_RUNS ?= multirun/toplayer_generator$(if $(GEN_SEED),_seed$(GEN_SEED))
GEN_OUT ?= results/topology_layer/generator$(if $(GEN_SEED),/seed$(GEN_SEED))
GEN_FLAGS ?= logger=none trainer.progress=false
GEN_STAGES := topology latent pd_discriminator gan_60k
gen_run = test -f $(GEN_RUNS)/$(2)/metrics.json || $(PY) -m topoexp +experiment=toplayer/generator/$(1) \
  $(if $(GEN_SEED),seed=$(GEN_SEED)) $(GEN_FLAGS) hydra.run.dir=$(GEN_RUNS)/$(2) $(3)

.PHONY: reproduce-toplayer-generative
reproduce-toplayer-generative: reproduce-toplayer-generator reproduce-toplayer-attacks  ## TopologyLayer paper beyond regression: the generator prior (Figures 8-10) and the attacks (Figures 12-13)

.PHONY: reproduce-toplayer-generator report-toplayer-generator
reproduce-toplayer-generator: install  ## TopologyLayer generator prior: baseline GAN, Topology-Generator, controls (Figures 8-10) into results/topology_layer/generator
	$(call guard_results,$(GEN_OUT))
	$(PY) -m topoexp.data mnist --root $(TOPOEXP_DATA_DIR)
	$(call gen_run,baseline,baseline)
	for s in $(GEN_STAGES); do \
	  $(call gen_run,$$s,$$s,task.init_from=$(CURDIR)/$(GEN_RUNS)/baseline) || exit 1; \
	done
	$(MAKE) report-toplayer-generator

report-toplayer-generator: install  ## rebuild results/topology_layer/generator from the runs in GEN_RUNS
	$(PY) -m topoexp.report.toplayer_generator --runs $(GEN_RUNS) --out $(GEN_OUT) \
	  --reference $(REFERENCE)/topology_layer_generator.csv
	$(PY) -m topoexp.report.records --runs $(GEN_RUNS) --out $(GEN_OUT)/runs
	$(MAKE) report
# ---- end TopologyLayer generator prior ------------------------------------------------------
# ------------------------------------------------ homological regularisation of generative AEs
# {MNIST, Fashion-MNIST} × {AE, AE + regulariser, VAE} × latent {2, 5, 10}, the disk-
# penalty-only ablation (MNIST) and the real-data floor, 5 seeds, 100 epochs (spec C.3), then
# results/homreg. A CPU budget: HOMREG_FLAGS=trainer.max_epochs=10 HOMREG_SEEDS=0; on a GPU:
# HOMREG_FLAGS=trainer.device=cuda. HOMREG_EXPERIMENTS picks a subset (names under homreg/).
HOMREG_SEEDS ?= 0,1,2,3,4
HOMREG_LATENTS ?= 2 5 10
HOMREG_EXPERIMENTS ?= $(foreach d,mnist fmnist,$(foreach m,ae ae_reg vae ae_ballprior,$(foreach n,$(HOMREG_LATENTS),$(d)/$(m)_$(n)))) \
  $(foreach n,$(HOMREG_LATENTS),mnist/ae_ball_$(n)) mnist/floor fmnist/floor
HOMREG_FLAGS ?=
HOMREG_JOBS ?= 1
HOMREG_TAG = $(call budget_tag,$(HOMREG_SEEDS),0$(comma)1$(comma)2$(comma)3$(comma)4,$(HOMREG_FLAGS))
HOMREG_RUNS ?= multirun/homreg$(if $(HOMREG_TAG),-$(HOMREG_TAG))
HOMREG_OUT ?= results/homreg$(if $(HOMREG_TAG),/$(HOMREG_TAG))

.PHONY: reproduce-homreg report-homreg
reproduce-homreg: install  ## homological regularisation: 18 configurations, the AE ball-prior control, the ablation and the floor × 5 seeds into results/homreg
	$(PY) -m topoexp.data mnist --root $(TOPOEXP_DATA_DIR)
	$(PY) -m topoexp.data fmnist --root $(TOPOEXP_DATA_DIR)
	$(if $(HOMREG_TAG),,$(call guard_results,$(HOMREG_OUT)))
	rm -rf $(HOMREG_RUNS)
	$(PY) -m topoexp -m \
	  "+experiment=$(shell echo $(addprefix homreg/,$(HOMREG_EXPERIMENTS)) | tr ' ' ',')" \
	  seed=$(HOMREG_SEEDS) $(RUN_FLAGS) $(HOMREG_FLAGS) hydra/launcher=joblib \
	  hydra.launcher.n_jobs=$(HOMREG_JOBS) hydra.sweep.dir=$(HOMREG_RUNS)
	$(MAKE) report-homreg HOMREG_RUNS=$(HOMREG_RUNS) HOMREG_OUT=$(HOMREG_OUT)

report-homreg: install  ## rebuild results/homreg from multirun/homreg (HOMREG_RUNS, HOMREG_OUT)
	$(PY) -m topoexp.report.homreg --runs $(HOMREG_RUNS) --out $(HOMREG_OUT)

# ---- device campaign: experiments on a GPU machine reached through one command -------------
# scripts/device_campaign.py (README "Running a campaign on a GPU machine"): campaign-prepare
# fills .device/ (wheels the machine lacks, data as .gz; name it in the call's carry),
# campaign-plan prints the command to give it, campaign-unpack brings the archives back.
# CAMPAIGN_DATA=mnist carries one data set per call when prepare finds both too large.
CAMPAIGN_EXPERIMENTS ?= spheres/topoae
CAMPAIGN_SEEDS ?= $(SEEDS)
CAMPAIGN_DATA ?=
CAMPAIGN_FLAGS ?=
CAMPAIGN_TIMEOUT ?= 600
CAMPAIGN_NAME ?=
CAMPAIGN_ARCHIVES ?=
CAMPAIGN_TABLES ?= budget
CAMPAIGN_REHEARSAL_FLAGS ?= debug=smoke
campaign_extra = $(foreach f,$(1),--extra $(f))

campaign-prepare: install  ## .device/ for CAMPAIGN_EXPERIMENTS: wheels, data (CAMPAIGN_DATA), manifest; refused over 64 MiB
	$(PY) scripts/device_campaign.py prepare --experiments $(CAMPAIGN_EXPERIMENTS) \
	  $(if $(CAMPAIGN_DATA),--data $(CAMPAIGN_DATA)) $(call campaign_extra,$(CAMPAIGN_FLAGS))

campaign-plan:  ## the device command (carry .device, timeout CAMPAIGN_TIMEOUT), checked against 2,000 characters
	$(PYTHON) scripts/device_campaign.py plan --experiments $(CAMPAIGN_EXPERIMENTS) \
	  --seeds $(CAMPAIGN_SEEDS) --timeout-s $(CAMPAIGN_TIMEOUT) $(if $(CAMPAIGN_NAME),--name $(CAMPAIGN_NAME)) \
	  $(call campaign_extra,$(CAMPAIGN_FLAGS))

campaign-rehearse: install  ## the campaign on this CPU at debug=smoke: multirun/rehearsal, archives in campaign-out/
	rm -rf multirun/rehearsal campaign-out
	$(PY) scripts/device_campaign.py run --experiments $(CAMPAIGN_EXPERIMENTS) --seeds $(CAMPAIGN_SEEDS) \
	  --budget-s 600 --out campaign-out --name rehearsal \
	  $(call campaign_extra,$(CAMPAIGN_FLAGS) $(CAMPAIGN_REHEARSAL_FLAGS))

campaign-unpack: install  ## CAMPAIGN_ARCHIVES (campaign.json + runs-*.tar.xz) into multirun/, checked; tables and report rebuilt
	@test -n "$(CAMPAIGN_ARCHIVES)" || { echo "CAMPAIGN_ARCHIVES=<folder holding campaign.json> is needed"; exit 1; }
	$(PY) scripts/device_campaign.py unpack $(CAMPAIGN_ARCHIVES) --into multirun \
	  --tables $(CAMPAIGN_TABLES) $(if $(FORCE),--force)
# ---- end device campaign ----------------------------------------------------------------------
