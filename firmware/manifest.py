# MicroPython manifest of the application: what a firmware image freezes (board
# manifests include this file).  Frozen code runs from flash and costs no heap.
package("smarty", base_path="lib")
package("smartyreader", base_path="lib")
