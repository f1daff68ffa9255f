# Real data, stored once per scale.


rule mnist:
    output:
        f"{WORK}/data/mnist.safetensors",
    params:
        seed=config["data"]["seed"],
    log:
        f"{WORK}/logs/data/mnist.log",
    conda:
        ENV
    script:
        "../scripts/prepare_mnist.py"
