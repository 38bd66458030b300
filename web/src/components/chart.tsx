import type { EChartsCoreOption, EChartsType } from 'echarts/core';
import { useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';

export type ChartOption = EChartsCoreOption;

/**
 * An ECharts chart, loaded on first use so the chart library stays out of the initial download.
 * `label` describes the chart for screen readers; `onClick` gets the clicked data point.
 */
export function Chart({
  option,
  label,
  height = 280,
  onClick,
}: {
  readonly option: ChartOption;
  readonly label: string;
  readonly height?: number;
  readonly onClick?: (params: {
    readonly name: string;
    readonly value: unknown;
    readonly data: unknown;
  }) => void;
}) {
  const { t } = useTranslation();
  const element = useRef<HTMLDivElement>(null);
  const chart = useRef<EChartsType | null>(null);
  const [ready, setReady] = useState(false);

  useEffect(() => {
    let disposed = false;
    let observer: ResizeObserver | undefined;
    void import('./echarts.ts').then(({ echarts }) => {
      if (disposed || element.current === null) return;
      chart.current = echarts.init(element.current, undefined, { renderer: 'canvas' });
      observer = new ResizeObserver(() => chart.current?.resize());
      observer.observe(element.current);
      setReady(true);
    });
    return () => {
      disposed = true;
      observer?.disconnect();
      chart.current?.dispose();
      chart.current = null;
    };
  }, []);

  useEffect(() => {
    if (!ready || chart.current === null) return;
    chart.current.setOption({ animation: false, ...option }, { notMerge: true });
  }, [ready, option]);

  useEffect(() => {
    if (!ready || chart.current === null || onClick === undefined) return;
    const current = chart.current;
    const handler = (params: unknown) => onClick(params as Parameters<typeof onClick>[0]);
    current.on('click', handler);
    return () => {
      current.off('click', handler);
    };
  }, [ready, onClick]);

  return (
    <div className="chart" role="img" aria-label={label} style={{ height }}>
      <div ref={element} className="chart-canvas" style={{ height }} />
      {!ready && <div className="chart-loading muted">{t('chartLoading')}</div>}
    </div>
  );
}
