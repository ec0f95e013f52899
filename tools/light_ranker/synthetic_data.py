"""Deterministic synthetic light-ranker data: DataRecord block files and their data spec.

The records look like an Earlybird light ranker's: the ~50 features of light_ranker_features.txt
(binary flags, counts and scores, languages as discrete values, strings, hashtags and mentions as
sparse binary sets, topic scores as sparse continuous maps), four engagement labels stored as
binary features, and a record weight stored as a continuous feature.

The main label, ``recap.engagement.is_favorited``, is drawn from a known logistic model that is
additive over features (a linear term per numeric feature, an effect per category or sparse
value), so a discretized/hashed logistic regression can approach it. The other engagement labels
are drawn from the same score with other offsets. ``optimal_auc`` is the ROC-AUC of the true
probability itself: no model can do better on this data, in expectation.

Everything derives from one seed: the same seed gives byte-identical files.

    python -m tools.light_ranker.synthetic_data --output_dir DIR [--num_files 4] [--records_per_file 5000]
"""

import argparse
import math
import os
from typing import Dict, Iterator, List, Optional

import numpy as np

from libtwml import _core
from twml_common import atomic_files, block_files, data_spec

RECORD_CLASS_NAME = block_files.RECORD_CLASS_NAME
MAIN_LABEL = "recap.engagement.is_favorited"
LABELS = [MAIN_LABEL, "recap.engagement.is_retweeted", "recap.engagement.is_replied", "recap.engagement.is_clicked"]
WEIGHT = "meta.record_weight/type=earlybird"
# Offsets of the other engagement labels' logits from the main label's (rarer engagements).
_LABEL_OFFSETS = {MAIN_LABEL: 0.0, LABELS[1]: -1.2, LABELS[2]: -1.8, LABELS[3]: 0.4}

_COUNTRIES = ["us", "jp", "gb", "br", "in", "fr", "de", "mx", "ca", "es"]
_CARD_TYPES = ["summary", "player", "poll", "app", "none"]
_APPS = ["android", "iphone", "web", "ipad", "tweetdeck", "other"]
_TOPICS = ["sports", "music", "news", "tech", "gaming", "food", "travel", "politics", "science", "art"]
_NUM_HASHTAGS = 200
_NUM_MENTIONED_USERS = 500
_NUM_DOMAINS = 60
_NUM_LANGUAGES = 30
# Strength of the label model's signal, chosen so that the optimal ROC-AUC is about 0.8.
_SIGNAL_SCALE = 0.65


def _is_count(name: str) -> bool:
    return any(word in name for word in ("count", "follower", "num_", "length", "age_in_secs"))


class LightRankerData:
    """The generator: a fixed feature set and label model, and records drawn from them.

    Args:
      seed: everything (model coefficients and records) derives from it.
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.features = data_spec.read_feature_list(data_spec.LIGHT_RANKER_FEATURES)
        self.spec = data_spec.make_data_spec(self.features)
        self.ids = {info.fullFeatureName: info.featureId for info in self.spec.contents}
        model = np.random.default_rng([seed, 0])
        self._types = dict(self.features)
        inputs = [n for n, t in self.features if n not in LABELS and n != WEIGHT]
        # Model coefficients: one per numeric input, one table of effects per categorical input.
        numeric = [n for n in inputs if self._types[n] in ("BINARY", "CONTINUOUS")]
        self._linear = {n: model.normal(0, 0.35) for n in numeric}
        # How each numeric input is distributed: binary flags with a fixed rate, heavy-tailed
        # counts, or scores in [0, 1].
        self._kinds = {
            n: "flag" if self._types[n] == "BINARY" else "count" if _is_count(n) else "score" for n in numeric
        }
        self._flag_rates = {n: model.uniform(0.05, 0.5) for n in numeric if self._kinds[n] == "flag"}
        self._effects = {
            "language.tweet_language": model.normal(0, 0.6, _NUM_LANGUAGES),
            "author.country_code": dict(zip(_COUNTRIES, model.normal(0, 0.4, len(_COUNTRIES)))),
            "tweet.card_type": dict(zip(_CARD_TYPES, model.normal(0, 0.3, len(_CARD_TYPES)))),
            "tweet.hashtags": model.normal(0, 0.5, _NUM_HASHTAGS),
            "author.topic_scores": model.normal(0, 0.8, len(_TOPICS)),
        }
        self._bias = -1.0

    # -- records ------------------------------------------------------------------------------

    def _numeric_inputs(self, rng: np.random.Generator, n: int) -> Dict[str, np.ndarray]:
        """Binary flags (0/1) and standardized continuous inputs of n records, by feature name."""
        values = {}
        for name, kind in self._kinds.items():
            if kind == "flag":
                values[name] = (rng.random(n) < self._flag_rates[name]).astype(np.float64)
            elif kind == "count":
                values[name] = np.floor(np.expm1(rng.gamma(1.5, 1.5, n)))
            else:
                values[name] = rng.beta(2.0, 3.0, n)
        return values

    def _standardized(self, name: str, value: np.ndarray) -> np.ndarray:
        # The model sees counts on a log scale; a discretizer recovers such monotone transforms.
        kind = self._kinds[name]
        if kind == "count":
            return (np.log1p(value) - 2.0) / 1.5
        if kind == "score":
            return (value - 0.4) / 0.2
        return value

    def batch(self, index: int, size: int) -> Dict[str, object]:
        """Batch `index` of records: their record dicts and true main-label probabilities."""
        rng = np.random.default_rng([self.seed, 1, index])
        numeric = self._numeric_inputs(rng, size)
        logit = np.zeros(size)
        for name, coefficient in self._linear.items():
            logit += coefficient * self._standardized(name, numeric[name])
        language = rng.integers(0, _NUM_LANGUAGES, size)
        logit += self._effects["language.tweet_language"][language]
        country = rng.choice(_COUNTRIES, size)
        logit += np.array([self._effects["author.country_code"][c] for c in country])
        card = rng.choice(_CARD_TYPES, size)
        logit += np.array([self._effects["tweet.card_type"][c] for c in card])
        hashtags = [rng.choice(_NUM_HASHTAGS, rng.integers(0, 4), replace=False) for _ in range(size)]
        logit += np.array([self._effects["tweet.hashtags"][h].sum() for h in hashtags])
        topics = [rng.choice(len(_TOPICS), rng.integers(0, 3), replace=False) for _ in range(size)]
        topic_scores = [rng.random(len(t)) for t in topics]
        logit += np.array([(self._effects["author.topic_scores"][t] * s).sum() for t, s in zip(topics, topic_scores)])
        logit = self._bias + _SIGNAL_SCALE * logit
        probability = 1.0 / (1.0 + np.exp(-logit))

        records = []
        ids = self.ids
        for i in range(size):
            record = {
                "binary": [],
                "continuous": {},
                "discrete": {},
                "strings": {},
                "sparse_binary": {},
                "sparse_continuous": {},
            }
            for name, value in numeric.items():
                if self._types[name] == "BINARY":
                    if value[i]:
                        record["binary"].append(ids[name])
                elif value[i] != 0.0:  # DataRecords omit zero counts, as real ones do
                    record["continuous"][ids[name]] = float(value[i])
            for name in LABELS:
                if rng.random() < 1.0 / (1.0 + math.exp(-(logit[i] + _LABEL_OFFSETS[name]))):
                    record["binary"].append(ids[name])
            record["continuous"][ids[WEIGHT]] = 2.0 if rng.random() < 0.1 else 1.0
            record["discrete"][ids["language.tweet_language"]] = int(language[i])
            record["discrete"][ids["language.user_language"]] = int(rng.integers(0, _NUM_LANGUAGES))
            record["discrete"][ids["ebd.tweet_language"]] = int(language[i])
            record["discrete"][ids["timelines.source_type"]] = int(rng.integers(0, 8))
            record["discrete"][ids["timelines.client_id"]] = int(rng.integers(0, 1000))
            record["strings"][ids["author.country_code"]] = country[i]
            record["strings"][ids["tweet.card_type"]] = card[i]
            record["strings"][ids["tweet.source_app"]] = _APPS[int(rng.integers(0, len(_APPS)))]
            if len(hashtags[i]):
                record["sparse_binary"][ids["tweet.hashtags"]] = ["#tag%d" % h for h in hashtags[i]]
            mentions = rng.choice(_NUM_MENTIONED_USERS, rng.integers(0, 3), replace=False)
            if len(mentions):
                record["sparse_binary"][ids["tweet.mentioned_user_ids"]] = ["%d" % (10**6 + m) for m in mentions]
            if rng.random() < 0.3:
                record["sparse_binary"][ids["tweet.url_domains"]] = ["site%d.com" % rng.integers(0, _NUM_DOMAINS)]
            if len(topics[i]):
                record["sparse_continuous"][ids["author.topic_scores"]] = {
                    _TOPICS[t]: float(s) for t, s in zip(topics[i], topic_scores[i])
                }
            affinities = rng.choice(len(_TOPICS), rng.integers(0, 3), replace=False)
            if len(affinities):
                record["sparse_continuous"][ids["viewer.topic_affinities"]] = {
                    _TOPICS[t]: float(rng.random()) for t in affinities
                }
            records.append(record)
        return {"records": records, "probability": probability}

    def records(self, count: int, start_batch: int = 0, batch_size: int = 1000) -> Iterator[Dict[str, object]]:
        """`count` record dicts (see libtwml._core.encode_data_record), deterministic for the seed."""
        batch_index = start_batch
        while count > 0:
            batch = self.batch(batch_index, min(batch_size, count))
            yield from batch["records"]
            count -= len(batch["records"])
            batch_index += 1

    def _optimal_auc(self, batches: Iterator[Dict[str, object]]) -> float:
        """ROC-AUC of the true main-label probabilities of the records of ``batches``."""
        probabilities, labels = [], []
        label_id = self.ids[MAIN_LABEL]
        for batch in batches:
            probabilities.append(batch["probability"])
            labels.append([label_id in r["binary"] for r in batch["records"]])
        return roc_auc(np.concatenate(labels), np.concatenate(probabilities))

    def optimal_auc_of_records(self, count: int, start_batch: int = 0, batch_size: int = 1000) -> float:
        """ROC-AUC of the true main-label probabilities of ``records(count, start_batch,
        batch_size)``: the best any model can score on exactly those records."""
        sizes = [min(batch_size, count - done) for done in range(0, count, batch_size)]
        return self._optimal_auc(self.batch(start_batch + i, size) for i, size in enumerate(sizes))

    def optimal_auc(self, num_records: int = 50000) -> float:
        """ROC-AUC of the true main-label probability on fresh records: the best a model can do."""
        return self._optimal_auc(
            self.batch(10**6 + index, min(5000, num_records - index)) for index in range(0, num_records, 5000)
        )


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Exact ROC-AUC (Mann-Whitney U with average ranks for ties) of boolean labels [n], scores [n]."""
    labels = np.asarray(labels, dtype=bool)
    order = np.argsort(scores, kind="mergesort")
    sorted_scores = np.asarray(scores)[order]
    ranks = np.empty(len(scores))
    start = 0
    while start < len(scores):
        end = start
        while end + 1 < len(scores) and sorted_scores[end + 1] == sorted_scores[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2.0 + 1
        start = end + 1
    positives = labels.sum()
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        raise ValueError("ROC-AUC needs both positive and negative labels")
    return float((ranks[labels].sum() - positives * (positives + 1) / 2.0) / (positives * negatives))


def first_batch_of_file(file_index: int, records_per_file: int) -> int:
    """The generator batch (of 1000 records) that file ``file_index`` of ``write_dataset`` starts
    at: its records are ``LightRankerData.records(records_per_file, start_batch=that)``."""
    return file_index * ((records_per_file + 999) // 1000)


def write_dataset(
    output_dir: str,
    num_files: int = 4,
    records_per_file: int = 5000,
    seed: int = 0,
    records_per_block: int = 100,
    compression: str = "",
) -> List[str]:
    """Write `num_files` block files (part-00000[.gz|.lzo]) and data_spec.json into output_dir.

    Each file is written to a temporary name and renamed, so a reader never sees a partial file.
    compression: "" (raw block files), "gz" or "lzo". Returns the data file paths.
    """
    os.makedirs(output_dir, exist_ok=True)
    data = LightRankerData(seed)
    paths = []
    for file_index in range(num_files):
        first_batch = first_batch_of_file(file_index, records_per_file)
        records = [_core.encode_data_record(r) for r in data.records(records_per_file, start_batch=first_batch)]
        path = os.path.join(output_dir, "part-%05d%s" % (file_index, "." + compression if compression else ""))
        block_files.write_block_file(path, records, records_per_block, compression)
        paths.append(path)
    atomic_files.write_file_atomically(
        os.path.join(output_dir, "data_spec.json"), data_spec.to_json(data.spec).encode()
    )
    return paths


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output_dir", required=True)
    parser.add_argument("--num_files", type=int, default=4)
    parser.add_argument("--records_per_file", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compression", default="", choices=block_files.COMPRESSIONS)
    args = parser.parse_args(argv)
    output_dir = os.path.join(os.environ.get("BUILD_WORKING_DIRECTORY", ""), args.output_dir)
    paths = write_dataset(output_dir, args.num_files, args.records_per_file, args.seed, compression=args.compression)
    print("wrote %d files of %d records and data_spec.json to %s" % (len(paths), args.records_per_file, output_dir))
    print("optimal ROC-AUC of %s: %.4f" % (MAIN_LABEL, LightRankerData(args.seed).optimal_auc()))


if __name__ == "__main__":
    main()
