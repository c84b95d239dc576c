# Sourced by the eval scripts: the dev collections and how to run each. Needs $datasets (where
# TREC DL 2019 lives); sets collections (in order), dir, extra (eval run options) and level (the
# relevance level of binary measures). TREC DL 2019 re-ranks its BM25 top 100 and is left out,
# with a line saying so, when it is not under $datasets.
collections=(scifact cranfield cacm)
declare -A dir=([scifact]=testdata/scifact [cranfield]=testdata/cranfield [cacm]=testdata/cacm)
declare -A extra=([scifact]="" [cranfield]="" [cacm]="")
declare -A level=([scifact]=1 [cranfield]=1 [cacm]=1)
dl="$datasets/trec-dl-2019-passage-bm25top100"
if [ -f "$dl/corpus.jsonl" ]; then
  collections+=(dl19)
  dir[dl19]="$dl"
  extra[dl19]="--candidates $dl/extra/bm25_top100.run"
  level[dl19]=2
else
  echo "TREC DL 2019 not found under $datasets: left out" >&2
fi
