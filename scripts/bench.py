"""`make bench`: every course model trained three ways side by side; see `dl101.bench`.

python scripts/bench.py [--models mlp cnn] [--repeats 3] [--scale 1.0] [--course-runs]
"""

from dl101 import bench

if __name__ == "__main__":
    bench.main()
