"""Pure metrics core: mergeable profiles in, metric values with honest error bounds out."""
