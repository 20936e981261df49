"""AutoGPT's three admin analytics routes, answered as upstream answers them."""
