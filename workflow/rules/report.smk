# The reviewer's path: VERIFY (our numbers and the paper's claims), then the aggregate target.

rule verify:
    input:
        artifacts=ALL_ARTIFACT_FILES,
        numbers="config/paper_numbers.yaml",
        table="config/artifacts.yaml",
    output:
        f"{RES}/VERIFY.md",
    params:
        scale=SCALE,
        results=lambda wildcards, output: os.path.dirname(output[0]),
    log:
        f"{WORK}/logs/verify.log",
    conda:
        ENV
    script:
        "../scripts/verify.py"
