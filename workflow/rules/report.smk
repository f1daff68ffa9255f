# The reviewer's path: VERIFY (our numbers and the paper's claims), the compute table, the MANIFEST and
# results/README.md; `snakemake --report results/<scale>/report.html` then shows them beside every artifact.

from rdm_core.report.manifest import config_values

REVIEW = "Reviewer's path"  # report category of the files below


localrules:
    results_readme,
    compute,
    manifest,


rule verify:
    input:
        artifacts=ALL_ARTIFACT_FILES,
        replicates=REPLICATE_FILES,
        numbers="config/paper_numbers.yaml",
        table="config/artifacts.yaml",
    output:
        report(f"{RES}/VERIFY.md", caption="../report/verify.rst", category=REVIEW, subcategory="VERIFY"),
    params:
        scale=SCALE,
        results=lambda wildcards, output: os.path.dirname(output[0]),
        noise={"k": config["noise_k"], "toy": TOY_REPLICATED, "classcond": CC_REPLICATED, "t2i": T2I_REPLICATED},
    log:
        f"{WORK}/logs/verify.log",
    conda:
        ENV
    script:
        "../scripts/verify.py"


rule results_readme:
    """results/README.md: every file under results/<scale>/, generated from the artifact table."""
    input:
        table="config/artifacts.yaml",
    output:
        "results/README.md",
    log:
        f"{WORK}/logs/results_readme.log",
    conda:
        ENV
    script:
        "../scripts/results_readme.py"


rule compute:
    """Wall time and peak memory per stage, from the benchmark files of the jobs the artifacts need."""
    input:
        stage_benchmarks,
    output:
        report(f"{RES}/tables/compute.csv", caption="../report/compute.rst", category=REVIEW, subcategory="Compute"),
        f"{RES}/tables/compute.md",
    params:
        root=f"{WORK}/benchmarks",
    log:
        f"{WORK}/logs/compute.log",
    conda:
        ENV
    script:
        "../scripts/compute.py"


MANIFEST_ENTRIES = [
    *({"artifact": name, "rule": producing_rule(artifact_outputs(name)[0]), "files": ARTIFACTS[name]["outputs"],
       "config": config_values(config, ARTIFACTS[name]["config"])} for name in SCALE_ARTIFACTS),
    {"artifact": "VERIFY", "rule": "verify", "files": ["VERIFY.md"], "config": {}},
    {"artifact": "compute", "rule": "compute", "files": ["tables/compute.csv", "tables/compute.md"], "config": {}},
]


rule manifest:
    """MANIFEST.tsv: each file with its sha256, producing rule, config hash and the code commit of the run."""
    input:
        ALL_ARTIFACT_FILES,
        rules.verify.output,
        rules.compute.output,
        rules.results_readme.output,
    output:
        report(f"{RES}/MANIFEST.tsv", caption="../report/manifest.rst", category=REVIEW, subcategory="MANIFEST"),
    params:
        results=lambda wildcards, output: os.path.dirname(output[0]),
        entries=MANIFEST_ENTRIES,
    log:
        f"{WORK}/logs/manifest.log",
    conda:
        ENV
    script:
        "../scripts/manifest.py"
