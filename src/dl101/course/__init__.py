"""`make course`: the runner of every course experiment (`runner`), the course-vs-ours report
(`report`) and its figures (`figures`); `python -m dl101.course` is its command line."""
