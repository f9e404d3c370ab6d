"""`python -m dl101.data [--repair]`: obtain and verify the MNIST raw files (`make data`)."""

from dl101.data.sources import main

main()
