"""An independent implementation of the flag bucket (docs/feature-flags.md), used to write vectors.json's expectations."""
M = (1 << 64) - 1

def bucket(seed: str, key: str) -> int:
    h = 14695981039346656037
    for b in (seed + "/" + key).encode("utf-8"):
        h ^= b
        h = (h * 1099511628211) & M
    h ^= h >> 30; h = (h * 0xbf58476d1ce4e5b9) & M
    h ^= h >> 27; h = (h * 0x94d049bb133111eb) & M
    h ^= h >> 31
    return h % 10000

if __name__ == "__main__":
    import sys
    for seed, key in zip(sys.argv[1::2], sys.argv[2::2]):
        print(seed, key, bucket(seed, key))
