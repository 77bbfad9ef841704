"""Distribution sm-clusterstack: library, CLI, SR drivers and cluster stacks."""

from setuptools import find_packages, setup

from sm_clusterstack import __version__

setup(
    name="sm-clusterstack",
    version=__version__,
    description="Let a Xen pool take HA membership from its clustered storage's "
                "cluster manager",
    long_description=open("README.md").read() if __import__("os").path.exists("README.md") else "",
    long_description_content_type="text/markdown",
    license="LGPL-2.1-only",
    python_requires=">=3.6",
    packages=find_packages(include=["sm_clusterstack", "sm_clusterstack.*"]),
    package_data={"sm_clusterstack": ["data/*.xml", "data/*.rng", "data/*.xsd"]},
    install_requires=["lxml", "XenAPI"],
    entry_points={"console_scripts": ["sm-clusterstack = sm_clusterstack.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3.6",
        "Operating System :: POSIX :: Linux",
        "Topic :: System :: Clustering",
    ],
)
