"""Streamlit pages (thin: every computation is in mnist_core) and the pieces they share."""
