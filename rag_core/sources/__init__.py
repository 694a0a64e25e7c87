"""Source views: a cited PDF page as an image, an HWP paragraph in its context."""
