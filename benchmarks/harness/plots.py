"""Plots of the reports: files written with matplotlib's Agg backend, one
colour per series across every panel and one legend naming them all."""
import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402


def series_colours(names):
    """A colour for each name, the same in every panel: distinct up to 20
    names (tab10, tab20 beyond ten), then repeating."""
    cmap = plt.get_cmap('tab10' if len(names) <= 10 else 'tab20')
    return {name: cmap(i % cmap.N) for i, name in enumerate(names)}


def panels(rows, cols, width=4, height=3.2):
    """A figure of rows x cols panels (a 2-D list of axes)."""
    return plt.subplots(rows, cols, squeeze=False,
                        figsize=(width * cols, height * rows))


def save_with_legend(fig, handles, path, columns=5):
    """One legend under the panels naming every series, then the file."""
    fig.legend(handles=handles, loc='lower center', ncol=columns,
               fontsize=8, frameon=False)
    rows = -(-len(handles) // columns)
    # About a quarter of an inch of legend per row.
    save(fig, path, rect=(0, 0.25 * rows / fig.get_figheight(), 1, 1))


def save(fig, path, dpi=110, rect=(0, 0, 1, 1)):
    """Lay the panels out within ``rect``, write the file, free the
    figure."""
    fig.tight_layout(rect=rect)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
