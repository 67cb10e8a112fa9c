"""Fulfilment through warehouse sales orders: allocation, the request job, dispatch, files."""
