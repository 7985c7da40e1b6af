"""Running compiled pipelines: plan, cache, kernels, executors, and the run loop that ties them."""
